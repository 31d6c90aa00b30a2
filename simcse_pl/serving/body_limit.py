"""The request-body cap (``Limits.max_body_bytes``, ``--max-body-bytes``), as ASGI middleware around the app: a body
that announces more (``Content-Length``) is answered 413 before a byte of it is read; one sent in chunks is
counted as it arrives and cut off as soon as it passes the cap. Either way the server holds at most the cap,
whatever a client sends, and the 413 says in one line what the limit is.

FastAPI's own ``max_body_size`` counts the same way, but answers an announced oversized body with a plain-text
"Content Too Large" that replaces any handler's answer, so a client would not learn the limit."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` while a route reads its body: an ``HTTPException``, so FastAPI answers it as the
    413 it is instead of a 400 "error parsing the body"."""


def over_limit(size: int | None, limit: int) -> str:
    said = f"{size:,} bytes" if size is not None else "more bytes than allowed"
    return f"body: {said}, more than the limit of {limit:,} bytes (--max-body-bytes)"


class BodyLimit:
    """Wraps an ASGI app so no request body over ``max_bytes`` gets past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = Headers(scope=scope).get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            await JSONResponse({"detail": over_limit(int(announced), self.max_bytes)}, 413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(413, over_limit(None, self.max_bytes))
            return message

        await self.app(scope, counted, send)
