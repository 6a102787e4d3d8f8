"""Response helpers shared by every route, so status codes and content types stay uniform.

Skydive-compatible routes answer errors in plain text (its Go server does, and
``skydive-client`` shows the body as is); dragonscope's own routes answer
``{"Error": "..."}`` JSON.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json; charset=UTF-8"


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(obj, separators=(",", ":")) + "\n"
    response = web.Response(text=body, status=status, headers=headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


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


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    raw = await request.read()
    if not raw.strip():
        raise web.HTTPBadRequest(text="request body is empty\n", content_type="text/plain")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=f"request body is not valid JSON: {exc}\n", content_type="text/plain"
        ) from None
