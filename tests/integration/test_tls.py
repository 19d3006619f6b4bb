"""HTTPS on the listener (`server.http.tls`): self-signed certificates made by the test (cryptography), the
official client over https, and a new certificate served after SIGHUP — by one process and by workers."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.integration.conftest import write_config
from tests.integration.test_http import free_port, wait_for_port
from tests.integration.test_workers import all_ready, supervisor

pytestmark = pytest.mark.anyio

CONFIG = """
version: 1
server:
  http: {tls: {cert: cert.pem, key: key.pem}EXTRA}
tools:
  greet: {kind: python, function: "sample_tools:greet"}
  pid_after: {kind: python, function: "sample_tools:pid_after"}
"""


def make_certificate(folder: Path, name: str) -> int:
    """A self-signed certificate for 127.0.0.1 and localhost, written as `name`.pem and `name`.key in
    `folder`; its serial number."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / f"{name}.pem").write_bytes(pem)
    (folder / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return int(cert.serial_number)


def install(folder: Path, name: str) -> None:
    """Make `name` the certificate the config names (cert.pem, key.pem)."""
    (folder / "cert.pem").write_bytes((folder / f"{name}.pem").read_bytes())
    (folder / "key.pem").write_bytes((folder / f"{name}.key").read_bytes())


def trusting(folder: Path, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for name in names:
        context.load_verify_locations(str(folder / f"{name}.pem"))
    return context


async def served_serial(port: int, context: ssl.SSLContext) -> int:
    """The serial number of the certificate a new TLS connection to `port` gets (verified)."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return int(x509.load_der_x509_certificate(der).serial_number)


async def until_serial(port: int, context: ssl.SSLContext, serial: int) -> None:
    for _ in range(100):
        if await served_serial(port, context) == serial:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the new certificate was not served")


async def test_the_official_client_over_https_and_a_new_certificate_after_sighup(workdir: Path) -> None:
    """The official client lists and calls tools over https (verifying the certificate); after the files are
    replaced and SIGHUP sent, new connections get the new certificate; a broken pair on a later SIGHUP
    keeps the one in use."""
    first, second = make_certificate(workdir, "first"), make_certificate(workdir, "second")
    install(workdir, "first")
    config = write_config(workdir, CONFIG.replace("EXTRA", ""))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webmcp", "serve", "-c", str(config), "--transport", "http",
                             "--port", str(port)], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port)
        context = trusting(workdir, "first", "second")
        async with (
            httpx2.AsyncClient(verify=context) as http,
            streamable_http_client(f"https://127.0.0.1:{port}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert "greet" in {t.name for t in (await session.list_tools()).tools}
            result = await session.call_tool("greet", {"name": "TLS"})
            assert result.content[0].text == "Hello, TLS!"  # type: ignore[union-attr]
        assert await served_serial(port, context) == first
        install(workdir, "second")
        proc.send_signal(signal.SIGHUP)
        await until_serial(port, context, second)
        (workdir / "key.pem").write_text("not a key")
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
        assert await served_serial(port, context) == second
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(15)
        assert proc.stderr is not None
        log = proc.stderr.read().decode()
        proc.stderr.close()
    assert "serving on https://" in log and "keeping the certificate in use" in log


@pytest.mark.slow
async def test_worker_processes_serve_tls_and_reload_their_certificates(workdir: Path, runtime_dir: Path) -> None:
    """With --workers 2, every connection (whichever worker takes it) is TLS; after SIGHUP to the supervisor,
    every worker serves the new certificate."""
    make_certificate(workdir, "first")
    second = make_certificate(workdir, "second")
    install(workdir, "first")
    text = CONFIG.replace("EXTRA", ", stateless: true")
    with supervisor(workdir, runtime_dir, text) as sup:
        port = int(sup.url.rsplit(":", 1)[1].split("/")[0])
        context = trusting(workdir, "first", "second")
        assert await served_serial(port, context) != second
        install(workdir, "second")
        os.kill(sup.proc.pid, signal.SIGHUP)
        sup.wait(lambda ws: all_ready(2)(ws) and all(w.get("generation") == 2 for w in ws), "the reload")
        serials = {await served_serial(port, context) for _ in range(20)}
        assert serials == {second}
