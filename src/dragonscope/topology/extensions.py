"""The extension API: Dragonflow apps add nodes, edges and metadata to the graph.

An extension is any object with a ``name`` and a ``contribute(obj, ctx)``
method, published under the entry-point group ``dragonscope.extensions``. It is
called for every NB object of the tables it names (``tables``; all when absent)
each time that object is rendered, and describes its additions through the
``ExtensionContext``. Reads through ``ctx.get`` are tracked like the built-in
rules' reads, so the additions stay current incrementally.

An extension that raises, or whose output breaks a rule (no ``Name``, an edge to
an unknown node, a key the translation already sets...), is reported in
``Topology.extension_errors``, logged, and disabled; its earlier additions are
withdrawn and everything else goes on. ``docs/extensions.md`` has a worked example.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dragonscope.graph import Edge
from dragonscope.nb import NbObject
from dragonscope.topology import ids
from dragonscope.topology.contribution import Contribution, Key

if TYPE_CHECKING:
    from dragonscope.topology.contribution import RenderContext

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dragonscope.extensions"
EXTENSION_KEY = "Extension"
"""Metadata key naming the extension on every node and edge it adds."""


@runtime_checkable
class Extension(Protocol):
    """What a Dragonflow app implements. ``tables`` (optional attribute): the NB tables
    it wants to see; when absent or None, every table."""

    name: str

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None: ...


@dataclass(frozen=True, slots=True)
class ExtensionFailure:
    """Why an extension was disabled; ``table``/``id`` name the object it failed on, if any."""

    extension: str
    table: str | None
    id: str | None
    error: str

    def __str__(self) -> str:
        where = f" on {self.table}/{self.id}" if self.table else ""
        return f"extension {self.extension!r} disabled{where}: {self.error}"


class ExtensionOutputError(ValueError):
    """The extension's output breaks a graph rule; the message says which."""


def _check_json(value: Any, where: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ExtensionOutputError(f"{where} is not JSON-serializable: {exc}") from None


class ExtensionContext:
    """What an extension may read and add while one NB object is rendered.

    All additions are buffered and checked when ``contribute`` returns; nothing of
    a failing call reaches the graph.
    """

    def __init__(self, name: str, render: RenderContext) -> None:
        self._name = name
        self._render = render
        self._nodes: dict[str, dict[str, Any]] = {}
        self._edges: dict[str, Edge] = {}
        self._refs: dict[str, Key] = {}
        self._metadata: dict[str, Any] = {}

    @property
    def chassis(self) -> str | None:
        """The chassis of the slice being built, or None for the global graph."""
        return self._render.chassis

    @property
    def node(self) -> str | None:
        """Graph ID of the object's own node (None for tables drawn as edges only)."""
        own = self._render.own_id
        return own if own in self._render.contribution.nodes else None

    def get(self, table: str, object_id: str) -> NbObject | None:
        """Another NB object; the read is tracked, so a change to it re-renders this one."""
        return self._render.get(table, object_id)

    def node_of(self, table: str, object_id: str) -> str:
        """Graph ID of an NB object's node, for an edge end (a placeholder if it is missing)."""
        if not isinstance(table, str) or not isinstance(object_id, str) or not object_id:
            raise ExtensionOutputError(
                f"node_of needs a table and an id, got {table!r}, {object_id!r}"
            )
        nid = ids.node_id(table, object_id)
        if (table, object_id) != self._render.obj.key:
            self._refs[nid] = (table, object_id)
        return nid

    def add_node(self, key: str, metadata: Mapping[str, Any]) -> str:
        """Add a node of the extension's own; ``key`` is unique within the extension and the
        same key from several objects is one node. Returns its graph ID."""
        if not isinstance(key, str) or not key:
            raise ExtensionOutputError(f"node key must be a non-empty string, got {key!r}")
        nid = ids.extension_node_id(self._name, key)
        self._nodes[nid] = dict(metadata)
        return nid

    def add_edge(
        self,
        parent: str,
        child: str,
        relation: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Add an edge between nodes this context knows: the object's own, ``add_node``'s,
        ``node_of``'s, or the ones the translation drew for this object."""
        if not isinstance(relation, str) or not relation:
            raise ExtensionOutputError(f"RelationType must be a non-empty string, got {relation!r}")
        eid = ids.edge_id(parent, f"{self._name}:{relation}", child)
        body = {"RelationType": relation, **(metadata or {}), EXTENSION_KEY: self._name}
        body["RelationType"] = relation
        self._edges[eid] = Edge(eid, body, parent=parent, child=child)
        return eid

    def add_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Add top-level keys to the object's own node (keys the translation sets are refused)."""
        self._metadata.update(metadata)

    def commit(self) -> bool:
        """Check the buffered output and merge it into the object's contribution."""
        contribution: Contribution = self._render.contribution
        known = set(contribution.nodes) | set(self._nodes) | set(self._refs)
        known |= set(contribution.refs) | set(contribution.tenants)
        for nid, metadata in self._nodes.items():
            for key in ("Name", "Type"):
                if not isinstance(metadata.get(key), str) or not metadata[key]:
                    raise ExtensionOutputError(f"node {nid}: {key} must be a non-empty string")
            if metadata.get(EXTENSION_KEY, self._name) != self._name:
                raise ExtensionOutputError(f"node {nid}: {EXTENSION_KEY} is reserved")
            metadata[EXTENSION_KEY] = self._name
            _check_json(metadata, f"node {nid} metadata")
        for eid, spec in self._edges.items():
            for end in (spec.parent, spec.child):
                if end not in known:
                    raise ExtensionOutputError(f"edge {eid}: end {end!r} is not a known node")
            _check_json(spec.metadata, f"edge {eid} metadata")
        if self._metadata:
            own = self.node
            if own is None:
                raise ExtensionOutputError(f"{self._render.obj.table} objects have no node")
            target = contribution.nodes[own]
            for key in self._metadata:
                if not isinstance(key, str) or not key or "." in key:
                    raise ExtensionOutputError(
                        f"metadata key {key!r} must be a non-empty string without dots"
                    )
                if key in target:
                    raise ExtensionOutputError(f"metadata key {key!r} is already set")
            _check_json(self._metadata, "metadata")
            target.update(self._metadata)
        contribution.nodes.update(self._nodes)
        contribution.edges.update(self._edges)
        contribution.refs.update(self._refs)
        return bool(self._nodes or self._edges or self._metadata or self._refs)


def discover() -> tuple[list[Extension], list[ExtensionFailure]]:
    """The extensions installed under the entry-point group, and those that failed to load."""
    found: list[Extension] = []
    failures: list[ExtensionFailure] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            extension = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # a broken plugin must not stop the collector
            failures.append(ExtensionFailure(entry.name, None, None, f"cannot load: {exc}"))
            continue
        found.append(extension)
    names = [str(getattr(extension, "name", extension)) for extension in found]
    log.info(
        "extensions (entry point %s): %s",
        ENTRY_POINT_GROUP,
        ", ".join(names) if names else "none installed",
    )
    return found, failures


class ExtensionRunner:
    """Calls the enabled extensions, isolates their failures, remembers whom to re-render."""

    def __init__(self, extensions: Iterable[Extension] | None) -> None:
        self.failures: list[ExtensionFailure] = []
        if extensions is None:
            extensions, self.failures = discover()
        self._enabled: dict[str, Extension] = {}
        for extension in extensions:
            raw_name = getattr(extension, "name", None)
            name = raw_name if isinstance(raw_name, str) else ""
            problem = None
            if not name:
                problem = "it has no name"
            elif name in self._enabled:
                problem = "another extension has the same name"
            elif not callable(getattr(extension, "contribute", None)):
                problem = "it has no contribute(obj, ctx) method"
            if problem:
                self._fail(ExtensionFailure(str(raw_name or extension), None, None, problem))
                continue
            self._enabled[name] = extension
        self._sources: dict[str, set[Key]] = {}
        self._retry: list[Key] = []

    @property
    def names(self) -> list[str]:
        return list(self._enabled)

    def contribute(self, render: RenderContext) -> None:
        obj = render.obj
        for name, extension in list(self._enabled.items()):
            tables = getattr(extension, "tables", None)
            if tables is not None and obj.table not in tables:
                continue
            ctx = ExtensionContext(name, render)
            try:
                # A plugin may break the protocol: what it returns is checked, not trusted.
                contribute: Callable[..., object] = extension.contribute
                returned = contribute(obj, ctx)
                if returned is not None:
                    raise ExtensionOutputError(
                        f"contribute returned a {type(returned).__name__}; "
                        "it must add through ctx and return None"
                    )
                if ctx.commit():
                    render.contribution.extensions.add(name)
            except Exception as exc:  # isolation is the point: report, disable, go on
                self._disable(name, ExtensionFailure(name, obj.table, obj.id, _describe(exc)))

    def track(self, key: Key, old: Collection[str], new: Collection[str]) -> None:
        """The extensions whose output the object's render carried before, and now."""
        for name in old:
            if name not in new:
                self._sources.get(name, set()).discard(key)
        for name in new:
            if name in self._enabled:
                self._sources.setdefault(name, set()).add(key)

    def take_disabled_sources(self) -> list[Key]:
        """Objects that carry output of an extension disabled since the last call."""
        retry, self._retry = self._retry, []
        return retry

    def _disable(self, name: str, failure: ExtensionFailure) -> None:
        del self._enabled[name]
        self._retry.extend(sorted(self._sources.pop(name, ())))
        self._fail(failure)

    def _fail(self, failure: ExtensionFailure) -> None:
        log.error("%s", failure)
        self.failures.append(failure)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ExtensionOutputError):
        return f"invalid output: {exc}"
    return f"raised {type(exc).__name__}: {exc}"
