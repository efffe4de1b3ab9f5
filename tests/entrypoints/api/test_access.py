"""Who may use a studio: the rules (pure) and a real server beyond loopback.

The server binds every interface (``0.0.0.0``); the tests talk to it on
127.0.0.1, as another machine would talk to its LAN address.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stt_studio.entrypoints.api.access import Access, decide, parse_logins
from stt_studio.errors import InvalidOptionError
from tests.entrypoints.api.conftest import api_server

ORIGIN = "http://example.test"


def _token(n: int) -> str:
    return f"made-{n}"


# -- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_nothing_unless_a_key_is_given(host):
    assert decide(host, None, make_token=_token) == Access()
    assert decide(host, "k", make_token=_token) == Access(api_key="k")
    assert decide(host, None, (("ann", "pw"),), make_token=_token) == \
        Access(logins=(("ann", "pw"),))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "studio.lan"])
def test_beyond_loopback_a_generated_token_guards_api_and_page(host):
    assert decide(host, None, make_token=_token) == \
        Access(api_key="made-24", page_token="made-24", generated=True)


def test_the_generated_token_is_random_and_long():
    first, second = decide("0.0.0.0", None), decide("0.0.0.0", None)
    assert first.api_key and second.api_key and first.api_key != second.api_key
    assert len(first.api_key) >= 32


def test_beyond_loopback_a_key_guards_both():
    assert decide("0.0.0.0", "k", make_token=_token) == Access(api_key="k", page_token="k")


def test_beyond_loopback_logins_guard_the_page_and_a_token_the_api():
    logins = (("ann", "pw"), ("bob", "pw2"))
    assert decide("0.0.0.0", None, logins, make_token=_token) == \
        Access(api_key="made-24", page_token=None, logins=logins, generated=True)
    assert decide("192.168.1.20", "k", logins, make_token=_token) == \
        Access(api_key="k", page_token=None, logins=logins)


def test_parse_logins_from_pairs_and_files(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("# the team\n\nbob:secret\n   carol:a:b:c  \n  # old: dave:x\n", "utf-8")
    assert parse_logins(["ann:pw"], [logins]) == \
        (("ann", "pw"), ("bob", "secret"), ("carol", "a:b:c"))
    assert parse_logins([], []) == ()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le",
                                      "utf-16-be"])
def test_a_login_file_from_windows_tools_is_read_whatever_its_bom(tmp_path, encoding):
    """PowerShell 5.1's ``>`` writes UTF-16 with a BOM, ``Set-Content -Encoding UTF8``
    UTF-8 with one: the first user must match all the same (no BOM in the name)."""
    logins = tmp_path / "logins.txt"
    logins.write_bytes("zoë:pässword\r\nbob:secret\r\n".encode(encoding))
    assert parse_logins([], [logins]) == (("zoë", "pässword"), ("bob", "secret"))


def test_a_login_file_that_is_not_text_says_so(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_bytes(b"ann:\xff\xfe\xfa")  # no BOM at the start, not UTF-8
    with pytest.raises(InvalidOptionError) as info:
        parse_logins([], [logins])
    assert "is not text in UTF-8 or UTF-16" in info.value.render()
    assert "Set-Content -Encoding utf8" in info.value.render()


@pytest.mark.parametrize("bad", ["annpw", ":pw", "ann:", ""])
def test_a_bad_login_pair_is_a_readable_error(bad):
    with pytest.raises(InvalidOptionError) as info:
        parse_logins(["ok:pw", bad], [])
    text = info.value.render()
    assert text.startswith("Invalid option: a login in --auth is not USER:PASSWORD"), text
    assert "Write each login as USER:PASSWORD" in text


def test_a_bad_line_in_a_login_file_names_the_file(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("ann:pw\njust-a-name\n", "utf-8")
    with pytest.raises(InvalidOptionError) as info:
        parse_logins([], [logins])
    assert f"a login in {logins} is not USER:PASSWORD" in info.value.render()
    assert "just-a-name" not in info.value.render()  # lines may hold passwords


def test_a_missing_login_file_is_a_readable_error(tmp_path):
    with pytest.raises(InvalidOptionError) as info:
        parse_logins([], [tmp_path / "nope.txt"])
    text = info.value.render()
    assert f"cannot read the login file {tmp_path / 'nope.txt'}" in text
    assert "--auth-file" in text


# -- a real server on 0.0.0.0 ------------------------------------------------------------


@pytest.fixture(scope="module")
def open_server(session_studio) -> Iterator[Any]:
    """A studio bound to every interface, no key: it made a token."""
    with api_server(session_studio, host="0.0.0.0") as served:
        yield served


def _client(served: Any, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{served.port}", headers=headers,
                        follow_redirects=False, timeout=30)


def _token_of(served: Any) -> str:
    token = served.access.page_token
    assert token and served.access.generated and served.access.api_key == token
    return str(token)


def test_the_url_carries_the_token(open_server):
    token = _token_of(open_server)
    assert open_server.url == f"{open_server.base_url}?token={token}"
    assert open_server.base_url == f"http://127.0.0.1:{open_server.port}/"


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic YW5uOnB3"])
def test_the_api_refuses_anyone_without_the_token(open_server, auth):
    headers = {"Authorization": auth} if auth else {}
    with _client(open_server, **headers) as http:
        for method, path in (("GET", "/v1/models"), ("GET", "/v1/models/tiny.en"),
                             ("POST", "/v1/audio/transcriptions")):
            response = http.request(method, path)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            error = response.json()["error"]
            assert error["code"] == "invalid_api_key" and error["type"] == \
                "invalid_request_error"
            assert "Authorization: Bearer" in error["message"]
            assert ("Incorrect API key" in error["message"]) == (auth == "Bearer wrong")


def test_the_token_opens_the_api(open_server):
    with _client(open_server, Authorization=f"Bearer {_token_of(open_server)}") as http:
        response = http.get("/v1/models")
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "list"


def test_health_and_ready_answer_everyone(open_server):
    with _client(open_server) as http:
        assert http.get("/health").status_code == 200
        assert http.get("/ready").status_code in (200, 503)
        assert "status" in http.get("/ready").json()


def test_an_anonymous_browser_gets_the_token_form(open_server):
    with _client(open_server, Accept="text/html,application/xhtml+xml") as http:
        page = http.get("/")
        wrong = http.get("/", params={"token": "WRONG"})
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method=post action="/token">' in page.text
    assert "name=token type=password" in page.text
    assert "not right" not in page.text and "gradio" not in page.text.lower()
    assert wrong.status_code == 401 and "That token is not right" in wrong.text
    assert "set-cookie" not in wrong.headers


@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/info", "/gradio_api/upload",
                                  "/gradio_api/call/transcribe", "/gradio_api/queue/join",
                                  "/theme.css", "/gradio_api/file=/etc/hostname"])
def test_nothing_of_gradio_is_reachable_without_the_token(open_server, path):
    with _client(open_server) as http:
        got = http.get(path)
        posted = http.post(path, json={"data": []})
    for response in (got, posted):
        assert response.status_code == 401, (path, response.status_code, response.text[:200])
        assert "needs its access token" in response.json()["detail"]


def test_the_token_in_the_url_becomes_a_cookie(open_server):
    token = _token_of(open_server)
    with _client(open_server) as http:
        response = http.get("/", params={"token": token, "deep_link": "x"})
        assert response.status_code == 303
        assert response.headers["location"] == "/?deep_link=x"  # the token is gone
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"stt_studio_token_{open_server.port}={token};")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        page = http.get("/")  # httpx keeps the cookie
        config = http.get("/config")
        info = http.get("/gradio_api/info")
    assert page.status_code == 200 and "gradio_config" in page.text
    assert config.status_code == 200 and config.json()["mode"] == "blocks"
    assert info.status_code == 200 and "/transcribe" in info.json()["named_endpoints"]


def test_the_cookie_of_another_port_or_value_is_refused(open_server):
    token = _token_of(open_server)
    for name, value in ((f"stt_studio_token_{open_server.port + 1}", token),
                        (f"stt_studio_token_{open_server.port}", token + "x")):
        with _client(open_server) as http:
            http.cookies.set(name, value)
            assert http.get("/config").status_code == 401


def test_the_token_form_sets_the_cookie(open_server):
    token = _token_of(open_server)
    with _client(open_server) as http:
        wrong = http.post("/token", data={"token": "WRONG"})
        assert wrong.status_code == 401 and "That token is not right" in wrong.text
        assert "set-cookie" not in wrong.headers
        right = http.post("/token", data={"token": token})
        assert right.status_code == 303 and right.headers["location"] == "/"
        assert "HttpOnly" in right.headers["set-cookie"]
        assert http.get("/config").status_code == 200


def test_a_bearer_header_opens_the_page_too(open_server):
    with _client(open_server, Authorization=f"Bearer {_token_of(open_server)}") as http:
        assert http.get("/config").status_code == 200


@pytest.mark.slow
def test_gradio_client_with_the_token_transcribes(open_server, session_studio, jfk,
                                                  tmp_path, monkeypatch):
    from gradio_client import Client, handle_file

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    session_studio.load("tiny.en")
    client = Client(open_server.base_url, verbose=False, analytics_enabled=False,
                    download_files=tmp_path / "downloads",
                    headers={"Authorization": f"Bearer {_token_of(open_server)}"})
    status, transcript, _segments, _files = client.predict(
        audio=handle_file(str(jfk)), model="tiny.en", api_name="/transcribe")
    assert status.startswith("✓ Transcribed jfk.flac"), status
    assert "fellow Americans" in transcript


def test_gradio_client_without_the_token_is_refused(open_server):
    from gradio_client import Client

    with pytest.raises(Exception) as info:  # noqa: PT011 - gradio_client's own error types
        Client(open_server.base_url, verbose=False, analytics_enabled=False)
    assert type(info.value).__name__ == "AuthenticationError", repr(info.value)


# -- logins, CORS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def login_server(session_studio) -> Iterator[Any]:
    with api_server(session_studio, host="0.0.0.0", logins=(("ann", "pw"),)) as served:
        yield served


def test_with_logins_the_page_wants_gradios_login(login_server):
    access = login_server.access
    assert access.page_token is None and access.api_key and access.generated
    assert login_server.url == login_server.base_url  # no token in the page's URL
    with _client(login_server, Accept="text/html") as http:
        page = http.get("/")
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        assert http.get("/config").status_code == 401
        assert http.post("/login", data={"username": "ann", "password": "no"}).status_code == 400
        assert http.get("/config").status_code == 401
        login = http.post("/login", data={"username": "ann", "password": "pw"})
        assert login.status_code == 200 and login.json() == {"success": True}
        assert http.get("/config").status_code == 200
        assert http.get("/v1/models").status_code == 401  # the login is not the API key
    with _client(login_server, Authorization=f"Bearer {access.api_key}") as http:
        assert http.get("/v1/models").status_code == 200


def _preflight(served: Any, origin: str, path: str = "/v1/audio/transcriptions",
               host: str | None = None) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization"}
    with _client(served, **({"Host": host} if host else {})) as http:
        return http.options(path, headers=headers)


@pytest.mark.parametrize("host", [None, "192.168.1.20"], ids=["loopback", "lan-address"])
def test_cors_is_off_by_default(open_server, host):
    """No origin may read the API or the page; Gradio alone would allow any at a LAN address."""
    host = host and f"{host}:{open_server.port}"
    for path in ("/v1/audio/transcriptions", "/config", "/gradio_api/upload"):
        response = _preflight(open_server, ORIGIN, path, host)
        assert response.headers.get("access-control-allow-origin") is None, path
        assert response.headers.get("access-control-allow-credentials") is None, path
    with _client(open_server, Origin=ORIGIN, **({"Host": host} if host else {}),
                 Authorization=f"Bearer {_token_of(open_server)}") as http:
        for path in ("/v1/models", "/config"):
            response = http.get(path)
            assert response.status_code == 200, path
            assert response.headers.get("access-control-allow-origin") is None, path
            assert response.headers.get("access-control-allow-credentials") is None, path


def test_cors_origin_lets_that_origin_call_the_api(session_studio):
    with api_server(session_studio, cors_origins=(ORIGIN,)) as served:
        allowed = _preflight(served, ORIGIN)
        other = _preflight(served, "http://elsewhere.test")
        with _client(served, Origin=ORIGIN) as http:
            listing = http.get("/v1/models")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert other.headers.get("access-control-allow-origin") is None
    assert listing.headers["access-control-allow-origin"] == ORIGIN

