"""Skydive's own web UI (v2), served at ``/skydive/`` beside dragonscope's, from a build
the operator installed (``npm install @skydive-project/skydive-ui``).

Skydive serves this UI from its analyzer with its base URL written into the page
(``<< .BaseURL >>``, a Go template); this module does the same, so the UI's assets,
routes and API calls land on this analyzer. The page also loads two small scripts of
ours: a configuration of the UI for Dragonflow's nodes (``/static/js/skydive-config.js``:
icons, labels, layers, groups) and the wiring (``/static/js/skydive-wiring.js``) that
hands that configuration to the UI and ends the analyzer's session when the UI logs out.
Nothing of Skydive's UI is kept in this repository.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dragonscope.analyzer.responses import text_error

PREFIX = "/skydive/"
BASE_URL_MARK = "<< .BaseURL >>"
WIRING = (
    '<script src="/static/js/skydive-config.js"></script>'
    '<script src="/static/js/skydive-wiring.js"></script>'
)
NO_CACHE = {"Cache-Control": "no-cache"}


def wired_index(html: str) -> str:
    """The build's page with its base URL set to ``/skydive/`` and our configuration and
    wiring loaded before the UI's bundle (which is deferred) runs."""
    html = html.replace(BASE_URL_MARK, PREFIX)
    end = html.find("</head>")
    if end < 0:
        return html + WIRING
    return html[:end] + WIRING + html[end:]


def mount_skydive_ui(router: web.UrlDispatcher, root: Path) -> None:
    """Serve the build in ``root``: its files as they are, and its page for any other
    path under ``/skydive/`` (the UI's own routes, such as ``/skydive/login``)."""
    index = wired_index((root / "index.html").read_text(encoding="utf-8"))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(PREFIX)

    async def serve(request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        path = (root / tail).resolve()
        if not path.is_relative_to(root):
            return text_error(404, "not found")
        if tail and path.is_file() and path.name != "index.html":
            return web.FileResponse(path)
        if "." in tail.rsplit("/", 1)[-1]:  # a file the build does not have
            return text_error(404, f"{PREFIX}{tail} is not in the Skydive UI build")
        return web.Response(text=index, content_type="text/html", headers=NO_CACHE)

    router.add_get(PREFIX.rstrip("/"), redirect)
    router.add_get(PREFIX + "{tail:.*}", serve)
