"""Skydive routes this analyzer has nothing behind, answered as Skydive answers them.

dragonscope's graph comes from Dragonflow's NB, so it has no packet captures,
injections or workflows; Skydive's UIs still list them on every load and take
a 404 for an error. They get what Skydive answers when there are none: ``200 {}``
for a list, ``<Title> '<id>' not found`` (404) for one, and 405 (what Skydive
answers a call it will not do, which its UIs take quietly) for a change.
``GET /api/`` is redirected to ``/api`` as Skydive's router does for any
trailing slash.
"""

from __future__ import annotations

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.responses import json_response, text_error

# The REST name of each resource and its title in Skydive's answers (Go's strings.Title).
NONE_KEPT = {"capture": "Capture", "injectpacket": "Injectpacket", "workflow": "Workflow"}


def mount_skydive_compat(router: web.UrlDispatcher, guard: Authenticator) -> None:
    for name, title in NONE_KEPT.items():

        async def listing(request: web.Request) -> web.Response:
            guard.require(request, auth.READ)
            return json_response({})

        async def one(request: web.Request, title: str = title) -> web.Response:
            guard.require(request, auth.READ if request.method == "GET" else auth.WRITE)
            return text_error(404, f"{title} '{request.match_info['id']}' not found")

        async def create(request: web.Request, name: str = name) -> web.Response:
            guard.require(request, auth.WRITE)
            response = text_error(
                405, f"this analyzer keeps no {name}: its graph comes from Dragonflow's NB"
            )
            response.headers["Allow"] = "GET"
            return response

        path = f"/api/{name}"
        router.add_get(path, listing)
        router.add_post(path, create)
        router.add_get(path + "/{id}", one)
        router.add_patch(path + "/{id}", one)
        router.add_delete(path + "/{id}", one)
        if name == "workflow":
            router.add_post(path + "/{id}/call", one)

    async def api_slash(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/api")

    router.add_get("/api/", api_slash)
