"""The upload limit, for the API and the page alike (``--max-upload-mb``).

A request that says it is larger is refused before a byte is read (413);
one that does not say (chunked) is counted as it arrives, and the API stops
reading it at the limit. Gradio's own upload route enforces the same limit
(``max_file_size``) and the page says so in its status box.
"""

from __future__ import annotations

import json

from stt_studio.entrypoints.api.access import API_PREFIX, ASGIApp, Message, Receive, Scope, Send

#: room for the multipart envelope around a file of exactly the limit
ENVELOPE_BYTES = 64 * 1024


class UploadTooLarge(Exception):
    """The request body went past the limit while it was read."""


def too_large_message(limit_mb: int) -> str:
    return (f"The upload is larger than this studio's limit of {limit_mb} MB. "
            "Send a shorter or more compressed recording (e.g. `ffmpeg -i INPUT -ac 1 -b:a 64k "
            "out.mp3`), or start the server with a higher --max-upload-mb "
            "(STT_STUDIO_MAX_UPLOAD_MB).")


class UploadLimit:
    """ASGI middleware: bodies above ``limit_mb`` never reach the app in full."""

    def __init__(self, app: ASGIApp, limit_mb: int) -> None:
        self.app = app
        self.limit_mb = limit_mb
        self.limit_bytes = limit_mb * 1024 * 1024 + ENVELOPE_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit_bytes:
            await self._refuse(scope, send)
            return
        path = scope.get("path", "")
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit_bytes:
                raise UploadTooLarge(self.limit_mb)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = too_large_message(self.limit_mb)
        path = scope.get("path", "")
        body: dict[str, object]
        if path.startswith(API_PREFIX):
            body = {"error": {"message": message, "type": "invalid_request_error",
                              "param": "file", "code": "file_too_large"}}
        else:
            body = {"detail": message}
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})
