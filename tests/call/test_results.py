"""Error results never carry a URL's credentials, whatever exception text brought them."""

from __future__ import annotations

from webmcp.call.results import error_result, hide_credentials


def test_the_credentials_of_every_url_are_cut() -> None:
    text = "failed: GET https://bob:hunter2@api.example/x and redis://:pw@127.0.0.1:6379/0 (see a@b.example)"
    assert hide_credentials(text) == ("failed: GET https://***@api.example/x and redis://***@127.0.0.1:6379/0 "
                                      "(see a@b.example)")


def test_an_error_result_shows_no_credentials() -> None:
    result = error_result("upstream http://user:s3cret@host/mcp refused")
    assert result == {"content": [{"type": "text", "text": "upstream http://***@host/mcp refused"}],
                      "isError": True}
