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

# The names the UI uses: the wire's, and the metadata operations of the graph.
WIRE_CONSTANTS: dict[str, str | int] = {
    **skydive.wire_constants(),
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

    root = STATIC_DIR.resolve()

    async def static(request: web.Request) -> web.StreamResponse:
        """A file under static/, or 404 for any path that cannot be one (outside the
        directory, a symlink out of it, a name the file system refuses)."""
        try:
            path = (root / request.match_info["path"]).resolve()
            found = path.is_relative_to(root) and path.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    router.add_get("/", index)
    router.add_get("/static/js/wire.js", wire_js)
    router.add_get("/static/{path:.+}", static)
