"""Response helpers shared by every route, so status codes and content types stay uniform.

Skydive-compatible routes answer errors in plain text (its Go server does, and
``skydive-client`` shows the body as is); dragonscope's own routes answer
``{"Error": "..."}`` JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import payload, web
from aiohttp.abc import AbstractStreamWriter

from dragonscope.analyzer import bounds
from dragonscope.skydive import compact_json

JSON_TYPE = "application/json; charset=UTF-8"
JSON_DEPTH = web.AppKey("max_json_depth", int)
BODY_BYTES = web.AppKey("max_body_bytes", int)
_REQUIRED = object()


class BodyError(Exception):
    """A request body that cannot be used; answered ``status`` with the text (the
    ``errors`` middleware does it for routes that let it through)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = compact_json(obj) + "\n"
    response = web.Response(text=body, status=status, headers=headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


class PiecesPayload(payload.Payload):
    """A body sent piece by piece, never joined: a 40 MiB answer is not copied
    again on the event loop, and each piece gives the loop a turn while the
    socket drains."""

    def __init__(self, pieces: list[bytes], content_type: str) -> None:
        super().__init__(pieces, content_type=content_type)
        self._size = sum(len(p) for p in pieces)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        for piece in self._value:
            await writer.write(piece)


def pieces_response(pieces: list[bytes], content_type: str = JSON_TYPE) -> web.Response:
    """A JSON response whose text comes in pieces (see ``chunked``)."""
    return web.Response(
        body=PiecesPayload(pieces, content_type), headers={"Content-Type": content_type}
    )


def body_size(response: web.Response) -> int:
    body = response.body
    if isinstance(body, payload.Payload):
        return body.size or 0
    return len(body) if body is not None else 0


def text_error(status: int, message: str) -> web.Response:
    """Skydive's error form: plain text, the message and a newline."""
    return web.Response(
        text=message.rstrip("\n") + "\n",
        status=status,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )


def json_error(status: int, message: str) -> web.Response:
    """dragonscope's own error form, for routes that are not Skydive's."""
    return json_response({"Error": message}, status=status)


async def read_json(request: web.Request, empty: Any = _REQUIRED) -> Any:
    """The request body decoded under the input bounds (``empty`` stands for a blank
    body when given); BodyError 413 or 400 naming the bound or the fault."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app.get(BODY_BYTES, 0)
        raise BodyError(413, f"request body over {limit} bytes ({bounds.BODY})") from None
    if not raw.strip():
        if empty is not _REQUIRED:
            return empty
        raise BodyError(400, "request body is empty")
    try:
        return bounds.loads(raw, request.app.get(JSON_DEPTH, 64))
    except bounds.InputRefused as exc:
        raise BodyError(400, f"request body refused: {exc}") from None
