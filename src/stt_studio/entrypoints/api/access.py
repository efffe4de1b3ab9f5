"""Who may use the studio: the rules (pure) and the gate that applies them (ASGI).

* Bound to a loopback address, the studio is this machine's: the API needs a
  key only when one was set (``--api-key``), the page a login only when one
  was set (``--auth``).
* Bound to anything else, nothing is anonymous. The API needs the key, or,
  without one, a random token made at start (printed with the URL, as Jupyter
  does). The page needs the Gradio login when ``--auth`` is set, else the same
  key or token: from the printed URL (``?token=``, kept in a cookie), from the
  form the page shows, or as ``Authorization: Bearer`` (``gradio_client``).
* ``/health`` and ``/ready`` answer everyone: they say nothing but "up" and
  "ready", and probes carry no secrets.
"""

from __future__ import annotations

import codecs
import hmac
import html
import ipaddress
import json
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from stt_studio.errors import InvalidOptionError

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: paths anyone may ask
OPEN_PATHS = ("/health", "/ready")
#: where the page's token form posts to
TOKEN_PATH = "/token"
API_PREFIX = "/v1"
TOKEN_BYTES = 24


@dataclass(frozen=True, slots=True)
class Access:
    """The rules one server runs under.

    api_key: what ``/v1`` requests must carry as ``Authorization: Bearer``
        (None: the API is open; only on a loopback address).
    page_token: what the page and Gradio's own API need (None: no token;
        Gradio's login applies when ``logins`` are set).
    logins: user/password pairs for Gradio's login page.
    generated: the token was made at start (the console prints it).
    """

    api_key: str | None = None
    page_token: str | None = None
    logins: tuple[tuple[str, str], ...] = ()
    generated: bool = False

    def cookie_name(self, port: int) -> str:
        return f"stt_studio_token_{port}"  # cookies ignore ports: one per studio


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def decide(host: str, api_key: str | None, logins: Sequence[tuple[str, str]] = (),
           make_token: Callable[[int], str] = secrets.token_urlsafe) -> Access:
    """The rules for a server bound to ``host`` (see the module docstring)."""
    logins = tuple(logins)
    if is_loopback(host):
        return Access(api_key=api_key or None, logins=logins)
    generated = not api_key
    key = api_key or make_token(TOKEN_BYTES)
    return Access(api_key=key, page_token=None if logins else key, logins=logins,
                  generated=generated)


def decode_text(data: bytes) -> str:
    """A text file as Windows tools write it too: UTF-8 with or without a BOM, or UTF-16
    (Windows PowerShell 5.1's ``>``), with its BOM or, failing that, its zero bytes."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    if len(data) >= 2 and data.count(0) * 3 >= len(data):  # UTF-16 without its BOM
        return data.decode("utf-16-le" if data[1] == 0 else "utf-16-be")
    return data.decode("utf-8")


def parse_logins(pairs: Sequence[str], files: Sequence[Path]) -> tuple[tuple[str, str], ...]:
    """``USER:PASSWORD`` values and files of them (one a line, ``#`` comments) -> pairs."""
    lines: list[tuple[str, str]] = [(pair, "--auth") for pair in pairs]
    for path in files:
        try:
            text = decode_text(Path(path).read_bytes())
        except OSError as exc:
            raise InvalidOptionError(f"cannot read the login file {path}", detail=str(exc),
                                     remedies=("Check the path given to --auth-file",)) from exc
        except UnicodeDecodeError as exc:
            raise InvalidOptionError(
                f"the login file {path} is not text in UTF-8 or UTF-16", detail=str(exc),
                remedies=("Save it as UTF-8 (PowerShell: `Set-Content -Encoding utf8`)",),
            ) from exc
        lines += [(line.strip(), str(path)) for line in text.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    logins = []
    for line, origin in lines:
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise InvalidOptionError(f"a login in {origin} is not USER:PASSWORD",
                                     remedies=("Write each login as USER:PASSWORD",))
        logins.append((user, password))
    return tuple(logins)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def _bearer(headers: dict[str, str]) -> str | None:
    kind, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if kind.lower() == "bearer" else None


class AccessGate:
    """ASGI middleware that lets through only what :class:`Access` allows."""

    def __init__(self, app: ASGIApp, access: Access, port: int) -> None:
        self.app = app
        self.access = access
        self.cookie = access.cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = _headers(scope)
        if path in OPEN_PATHS or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)  # CORS preflights carry no credentials
            return
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            key = self.access.api_key
            if key is None or _same(_bearer(headers), key):
                await self.app(scope, receive, send)
            else:
                await self._api_refused(scope, send, headers)
            return
        token = self.access.page_token
        if token is None:
            await self.app(scope, receive, send)
            return
        if path == TOKEN_PATH and scope.get("method") == "POST":
            await self._token_form(receive, send, token)
            return
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_url = next(iter(query.get("token", [])), None)
        if _same(from_url, token) and scope["type"] == "http":
            await self._remember(scope, send, token)  # strip it from the address bar
            return
        if _same(self._cookie(headers), token) or _same(_bearer(headers), token):
            await self.app(scope, receive, send)
            return
        await self._page_refused(scope, send, headers, wrong=from_url is not None)

    def _cookie(self, headers: dict[str, str]) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            return None
        morsel = jar.get(self.cookie)
        return morsel.value if morsel is not None else None

    def _set_cookie(self, token: str) -> tuple[bytes, bytes]:
        return (b"set-cookie",
                f"{self.cookie}={token}; Path=/; HttpOnly; SameSite=Lax".encode("latin-1"))

    async def _remember(self, scope: Scope, send: Send, token: str) -> None:
        query = [(k, v) for k, v in urllib.parse.parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if k != "token"]
        target = scope.get("path", "/") + (f"?{urllib.parse.urlencode(query)}" if query else "")
        await _respond(send, 303, b"", [(b"location", target.encode("latin-1")),
                                        self._set_cookie(token)])

    async def _token_form(self, receive: Receive, send: Send, token: str) -> None:
        body = b""
        while len(body) < 4096:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        given = next(iter(urllib.parse.parse_qs(body.decode("latin-1")).get("token", [])), None)
        if _same(given, token):
            await _respond(send, 303, b"", [(b"location", b"/"), self._set_cookie(token)])
            return
        log.warning("a wrong token was typed into the page")
        await _respond(send, 401, _login_page(wrong=True).encode(),
                       [(b"content-type", b"text/html; charset=utf-8")])

    async def _api_refused(self, scope: Scope, send: Send, headers: dict[str, str]) -> None:
        given = _bearer(headers)
        message = ("Incorrect API key provided. " if given else
                   "This studio needs an API key: none was sent. ")
        message += ("Send it as the header `Authorization: Bearer KEY` (the openai client: "
                    "api_key=KEY). The key is the one given to `stt-studio serve --api-key` "
                    "or STT_STUDIO_API_KEY, or the token the server printed at start.")
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                          "code": "invalid_api_key"}}
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _respond(send, 401, json.dumps(body).encode(),
                       [(b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="stt-studio"')])

    async def _page_refused(self, scope: Scope, send: Send, headers: dict[str, str],
                            wrong: bool) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if "text/html" in headers.get("accept", ""):
            await _respond(send, 401, _login_page(wrong=wrong).encode(),
                           [(b"content-type", b"text/html; charset=utf-8")])
            return
        body = {"detail": "This studio needs its access token: open the URL the server "
                          "printed at start, or send `Authorization: Bearer TOKEN`."}
        await _respond(send, 401, json.dumps(body).encode(),
                       [(b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="stt-studio"')])


async def _respond(send: Send, status: int, body: bytes,
                   headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


def _login_page(wrong: bool) -> str:
    note = ("<p class=wrong>That token is not right. Copy it again from the console.</p>"
            if wrong else "")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>stt-studio: access token</title>
<meta name=viewport content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;font-size:1rem;margin:.5rem 0}}button{{padding:.5rem 1rem}}
.wrong{{color:#b00020}}code{{background:#eee;padding:0 .2rem}}</style></head>
<body><h1>stt-studio</h1>
<p>This studio is open to the network, so it asks for its access token.</p>
<p>The token is in the console where <code>stt-studio serve</code> runs: open the URL printed
there (it carries the token), or paste the token here. It is the API key when one was set
with <code>--api-key</code>.</p>{note}
<form method=post action="{html.escape(TOKEN_PATH)}">
<label for=token>Access token</label>
<input id=token name=token type=password autocomplete=current-password autofocus required>
<button type=submit>Open the studio</button></form></body></html>"""
