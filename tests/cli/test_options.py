"""The log format of every command."""

from __future__ import annotations

import logging
import sys

from webmcp.cli.options import HidingCredentials


def test_log_lines_never_show_the_credentials_of_a_url() -> None:
    """A URL's user:password@ is cut to ***@ in the message and in a traceback; other text is left alone."""
    formatter = HidingCredentials("%(name)s: %(message)s")
    try:
        raise ConnectionError("cannot reach https://bot:t0ken@example.com/mcp?q=1")
    except ConnectionError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: POST %s "%s"',
                               ("http://robot:pa55@127.0.0.1:8000/mcp", "HTTP/1.1 200 OK"), exc_info)
    line = formatter.format(record)
    assert line.startswith('httpx: HTTP Request: POST http://***@127.0.0.1:8000/mcp "HTTP/1.1 200 OK"')
    assert "https://***@example.com/mcp?q=1" in line
    assert "pa55" not in line and "t0ken" not in line
    plain = logging.LogRecord("webmcp", logging.INFO, __file__, 1, "mail me at a@b.example, see http://x/y", (), None)
    assert formatter.format(plain) == "webmcp: mail me at a@b.example, see http://x/y"
