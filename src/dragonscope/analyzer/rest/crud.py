"""Skydive's generic resource routes, registered once for every kind of resource.

Each kind (node rules, edge rules, alerts, nodes, edges) answers the same five
routes: list ``{"<ID>": resource}``, create (201 with the stored resource), get,
patch and delete, with Skydive's texts: ``<Kind> '<id>' not found`` (404) and
``resource not updatable`` (400). A kind only says how its resources are found,
made, changed and removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chunked import by_id_bytes
from dragonscope.analyzer.responses import json_response, pieces_response, read_json, text_error

T = TypeVar("T")


class Refused(Exception):
    """A request on a resource that cannot be done; the text is the 400 answer."""


class Collection(Protocol[T]):
    """One kind of resource, as the routes see it."""

    @property
    def label(self) -> str:
        """The kind's name in answers: "NodeRule", "Alert", "Node"."""

    @property
    def updatable(self) -> bool:
        """False: PATCH answers "resource not updatable"."""

    def items(self) -> Sequence[T]: ...

    def find(self, key: str) -> T | None: ...

    def key(self, item: T) -> str: ...

    def to_json(self, item: T) -> dict[str, Any]: ...

    async def create(self, body: Any) -> T: ...

    async def patch(self, item: T, patch: Any) -> T | None:
        """The patched resource, None when nothing changed (304); Refused if it cannot be."""

    def delete(self, item: T) -> None: ...


class Entry(Protocol):
    """A resource the analyzer keeps as it was given: rules and alerts."""

    @property
    def uuid(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


E = TypeVar("E", bound=Entry)


@dataclass(frozen=True, slots=True)
class Registry(Generic[E]):
    """A kind of resource kept by UUID and never updated: rules and alerts.
    ``parse`` raises ValueError on a body it refuses; ``added`` and ``removed``
    bring the graph in line."""

    label: str
    entries: dict[str, E]
    parse: Callable[[Any], E]
    added: Callable[[E], Awaitable[None]]
    removed: Callable[[E], None]
    updatable: bool = False

    def items(self) -> Sequence[E]:
        return list(self.entries.values())

    def find(self, key: str) -> E | None:
        return self.entries.get(key)

    def key(self, item: E) -> str:
        return item.uuid

    def to_json(self, item: E) -> dict[str, Any]:
        return item.to_json()

    async def create(self, body: Any) -> E:
        try:
            entry = self.parse(body)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        self.entries[entry.uuid] = entry
        await self.added(entry)
        return entry

    async def patch(self, item: E, patch: Any) -> E | None:
        raise Refused("resource not updatable")

    def delete(self, item: E) -> None:
        del self.entries[item.uuid]
        self.removed(item)


def mount(
    router: web.UrlDispatcher, path: str, kind: Collection[Any], guard: Authenticator
) -> None:
    """Add the five routes of ``kind`` under ``path`` (e.g. ``/api/alert``)."""

    def missing(key: str) -> web.Response:
        return text_error(404, f"{kind.label} '{key}' not found")

    async def listing(request: web.Request) -> web.Response:
        guard.require(request, auth.READ)
        items = kind.items()
        pieces = await by_id_bytes([kind.key(i) for i in items], items, kind.to_json)
        return pieces_response([*pieces, b"\n"])

    async def get(request: web.Request) -> web.Response:
        guard.require(request, auth.READ)
        item = kind.find(request.match_info["id"])
        if item is None:
            return missing(request.match_info["id"])
        return json_response(kind.to_json(item))

    async def create(request: web.Request) -> web.Response:
        guard.require(request, auth.WRITE)
        body = await read_json(request)
        try:
            item = await kind.create(body)
        except Refused as exc:
            return text_error(400, str(exc))
        return json_response(kind.to_json(item), status=201)

    async def patch(request: web.Request) -> web.Response:
        guard.require(request, auth.WRITE)
        if not kind.updatable:
            return text_error(400, "resource not updatable")
        item = kind.find(request.match_info["id"])
        if item is None:
            return missing(request.match_info["id"])
        try:
            updated = await kind.patch(item, await read_json(request))
        except Refused as exc:
            return text_error(400, str(exc))
        if updated is None:
            return web.Response(status=304)
        return json_response(kind.to_json(updated))

    async def delete(request: web.Request) -> web.Response:
        guard.require(request, auth.WRITE)
        item = kind.find(request.match_info["id"])
        if item is None:
            return missing(request.match_info["id"])
        try:
            kind.delete(item)
        except Refused as exc:
            return text_error(400, str(exc))
        return web.Response(status=200, headers={"Content-Type": "text/plain"})

    router.add_get(path, listing)
    router.add_post(path, create)
    router.add_get(path + "/{id}", get)
    router.add_patch(path + "/{id}", patch)
    router.add_delete(path + "/{id}", delete)
