"""The web UI: its page, its static files, and the constants it shares with the server.

The UI speaks Skydive's protocol and reads metadata operations; their names are
served from the Python constants (``/static/js/wire.js``), never copied into
the JavaScript.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from dragonscope import skydive
from dragonscope.analyzer.responses import text_error
from dragonscope.graph import OP_DELETE, OP_SET

STATIC_DIR = Path(__file__).parent.parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}

# The names the UI uses, and where they are spelled.
WIRE_CONSTANTS: dict[str, str | int] = {
    "GRAPH": skydive.GRAPH,
    "NODE_ADDED": skydive.NODE_ADDED,
    "NODE_UPDATED": skydive.NODE_UPDATED,
    "NODE_DELETED": skydive.NODE_DELETED,
    "NODE_PARTIALLY_UPDATED": skydive.NODE_PARTIALLY_UPDATED,
    "EDGE_ADDED": skydive.EDGE_ADDED,
    "EDGE_UPDATED": skydive.EDGE_UPDATED,
    "EDGE_DELETED": skydive.EDGE_DELETED,
    "EDGE_PARTIALLY_UPDATED": skydive.EDGE_PARTIALLY_UPDATED,
    "SYNC_REQUEST": skydive.SYNC_REQUEST,
    "SYNC_REPLY": skydive.SYNC_REPLY,
    "SYNC": skydive.SYNC,
    "SYNC_FILTER": skydive.SYNC_FILTER,
    "FIELD_NAMESPACE": skydive.FIELD_NAMESPACE,
    "FIELD_TYPE": skydive.FIELD_TYPE,
    "FIELD_UUID": skydive.FIELD_UUID,
    "FIELD_STATUS": skydive.FIELD_STATUS,
    "FIELD_OBJ": skydive.FIELD_OBJ,
    "HDR_CLIENT_TYPE": skydive.HDR_CLIENT_TYPE,
    "OP_SET": OP_SET,
    "OP_DELETE": OP_DELETE,
}


def wire_module() -> str:
    """The ES module of the constants, one ``export const`` each."""
    lines = ["// Served by the analyzer from dragonscope.skydive and dragonscope.graph."]
    lines += [f"export const {name} = {json.dumps(v)};" for name, v in WIRE_CONSTANTS.items()]
    return "\n".join(lines) + "\n"


def mount_ui(router: web.UrlDispatcher) -> None:
    wire = wire_module()

    async def index(request: web.Request) -> web.StreamResponse:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            return text_error(404, "the web UI is not installed")
        return web.FileResponse(page, headers=NO_CACHE)

    async def wire_js(request: web.Request) -> web.Response:
        return web.Response(text=wire, content_type="text/javascript", headers=NO_CACHE)

    router.add_get("/", index)
    router.add_get("/static/js/wire.js", wire_js)
    if STATIC_DIR.is_dir():
        router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
