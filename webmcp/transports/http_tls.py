"""HTTPS on the listener (`server.http.tls`): one SSLContext for every connection. `reload()` (SIGHUP, every
reload) loads the certificate and key again into that context: new handshakes get the new certificate,
connections already open keep theirs. A pair that does not load (a missing file, a key that does not match)
is refused at start, and on reload leaves the certificate in use."""

from __future__ import annotations

import logging
import ssl

from webmcp.config.spec import TlsSpec
from webmcp.errors import TransportUnavailable

log = logging.getLogger(__name__)


class Certificates:
    def __init__(self, spec: TlsSpec) -> None:
        self.spec = spec
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            self.context.load_cert_chain(spec.cert, spec.key)
        except (OSError, ssl.SSLError) as exc:
            raise TransportUnavailable(f"server.http.tls: cannot use {spec.cert} with {spec.key}: {exc}") from None

    def reload(self) -> None:
        # Tried on a scratch context first: a failed load_cert_chain may have replaced the certificate of
        # the live one but not its key, and every handshake after it would fail.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.spec.cert, self.spec.key)
            self.context.load_cert_chain(self.spec.cert, self.spec.key)
        except (OSError, ssl.SSLError) as exc:
            log.error("server.http.tls: cannot use %s with %s: %s; keeping the certificate in use",
                      self.spec.cert, self.spec.key, exc)
            return
        log.info("reloaded the TLS certificate %s", self.spec.cert)
