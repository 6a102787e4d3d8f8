"""Named, parameterised views of the topology: the one definition of the web UI's view
picker (the analyzer serves them at ``/api/views`` and runs them) and of ``dragonscope
query --saved``.

    >>> expand("chassis", {"name": "compute-1"})
    "G.V().Has('Type', 'chassis', 'Dragonflow.ID', 'compute-1')..."

Parameters are substituted as quoted strings after checking them: the dialect
has no escapes, so a value with a quote (or a control character) is refused
rather than allowed to change the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dragonscope.gremlin.errors import GremlinError

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_UNSAFE = re.compile(r"['\"\x00-\x1f\x7f]")
MAX_PARAM_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Choices:
    """Where a picker finds the values of a query's parameter: the metadata ``key``
    (a dotted path) of the nodes of ``type`` (any type if None), shown by ``label``."""

    key: str
    type: str | None = None
    label: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"Key": self.key, "Type": self.type, "Label": self.label}


@dataclass(frozen=True, slots=True)
class SavedQuery:
    name: str
    title: str
    description: str
    template: str
    params: tuple[str, ...] = ()
    choices: Choices | None = None  # for the single parameter, when a picker can offer it

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Title": self.title,
            "Description": self.description,
            "Params": list(self.params),
            "Query": self.template,
            "Choices": self.choices.to_json() if self.choices else None,
        }


_ANY_RELATION = "'RelationType', Regex('.+')"

SAVED_QUERIES: dict[str, SavedQuery] = {
    q.name: q
    for q in (
        SavedQuery(
            "global",
            "Everything",
            "The whole graph.",
            "G",
        ),
        SavedQuery(
            "tenant",
            "One tenant",
            "Every object of a tenant (project) and the links between them.",
            "G.V().Has('Tenant', {id}).SubGraph()",
            ("id",),
            Choices("Tenant"),
        ),
        SavedQuery(
            "chassis",
            "One chassis",
            "A chassis (by its Dragonflow ID, the host name), the ports placed on it and the"
            " networks of those ports.",
            "G.V().HasEither('Dragonflow.ID', {name}, 'Chassis', {name})"
            ".Neighbors('RelationType', 'layer2', 1).SubGraph()",
            ("name",),
            Choices("Dragonflow.ID", "chassis", "Name"),
        ),
        SavedQuery(
            "network",
            "One network",
            "A logical switch with its subnets, ports and router interfaces.",
            "G.V().Has('Type', 'lswitch', 'Dragonflow.ID', {id})"
            ".Descendants('RelationType', 'ownership', 'RelationType', 'layer2', 1).SubGraph()",
            ("id",),
            Choices("Dragonflow.ID", "lswitch", "Name"),
        ),
        SavedQuery(
            "port",
            "One port",
            "A logical port and everything directly linked to it (network, subnets, chassis,"
            " security groups, floating IPs, router).",
            f"G.V().Has('Type', 'lport', 'Dragonflow.ID', {{id}}).Neighbors({_ANY_RELATION}, 1)"
            ".SubGraph()",
            ("id",),
        ),
        SavedQuery(
            "l2",
            "Layer 2",
            "Networks and what is attached to them.",
            "G.E().Has('RelationType', 'layer2').SubGraph()",
        ),
        SavedQuery(
            "l3",
            "Layer 3",
            "Routers, their interfaces, the networks and subnets they connect, floating IPs.",
            "G.V().Has('Type', Within('lrouter', 'lrouter_port', 'lswitch', 'lsubnet',"
            " 'floatingip')).SubGraph()",
        ),
        SavedQuery(
            "security",
            "Security groups",
            "Security groups and the ports they protect.",
            "G.V().Has('Type', 'secgroup').InE('RelationType', 'secgroup').SubGraph()",
        ),
        SavedQuery(
            "broken-references",
            "Broken references",
            "Objects that refer to something that does not exist, and the missing"
            " placeholders they point at.",
            "G.V().Has('Type', 'missing').As('missing').In().As('referrers')"
            ".Select('missing', 'referrers').SubGraph()",
        ),
        SavedQuery(
            "problems",
            "Objects with problems",
            "NB objects whose stored data breaks the schema (see their Problems key).",
            "G.V().HasKey('Problems').SubGraph()",
        ),
        SavedQuery(
            "path",
            "Path between two objects",
            "The shortest path between two nodes named `from` and `to`, any relation.",
            "G.V().Has('Name', {from}).ShortestPathTo(Metadata('Name', {to})).SubGraph()",
            ("from", "to"),
        ),
    )
}


def quote(name: str, param: str, value: Any) -> str:
    """``value`` as a Gremlin string literal, or a GremlinError saying why it cannot be one."""
    if not isinstance(value, str):
        raise GremlinError(f"Parameter '{param}' of '{name}' must be a string")
    if _UNSAFE.search(value):
        raise GremlinError(
            f"Parameter '{param}' of '{name}' cannot contain quotes or control characters"
        )
    if len(value) > MAX_PARAM_LENGTH:
        raise GremlinError(
            f"Parameter '{param}' of '{name}' is longer than {MAX_PARAM_LENGTH} characters"
        )
    return f"'{value}'"


def expand(name: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> str:
    """The query text of saved query ``name`` with ``params`` (by name, or in order)."""
    saved = SAVED_QUERIES.get(name)
    if saved is None:
        known = ", ".join(sorted(SAVED_QUERIES))
        raise GremlinError(f"No saved query named '{name}'; known: {known}")
    if isinstance(params, str):
        raise GremlinError(f"Parameters of '{name}' must be a list or a mapping")
    if isinstance(params, Mapping):
        unknown = sorted(set(params) - set(saved.params))
        if unknown:
            raise GremlinError(
                f"'{name}' has no parameter {', '.join(unknown)}; it takes: "
                f"{', '.join(saved.params) or 'none'}"
            )
        values = dict(params)
    else:
        if len(params) > len(saved.params):
            raise GremlinError(
                f"'{name}' takes {len(saved.params)} parameter(s), got {len(params)}"
            )
        values = dict(zip(saved.params, params, strict=False))
    missing = [p for p in saved.params if p not in values]
    if missing:
        raise GremlinError(f"'{name}' needs parameter(s): {', '.join(missing)}")
    quoted = {p: quote(name, p, values[p]) for p in saved.params}
    return _PLACEHOLDER.sub(lambda m: quoted[m.group(1)], saved.template)
