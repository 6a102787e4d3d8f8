"""The vocabulary the NB schema is declared in: fields, structures, tables, references.

A field knows how Dragonflow encodes one value in JSON and judges a stored
value through its type's checker (``nb/checkers.py``); a structure is a set of
fields plus cross-field rules (``nb/rules.py``); a table is a top-level
structure with a name. Validation never raises: it appends ``(kind, path,
message)`` complaints so that one bad value never hides the rest of the object.
The table declarations themselves live in ``nb/schema.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from dragonscope.nb.checkers import CHECKERS, CONVERTERS, FIELD_TYPES, Checker
from dragonscope.nb.problems import MISSING_FIELD, WRONG_TYPE, Complaint, describe, show_value
from dragonscope.nb.rules import Rule
from dragonscope.nb.secrets import has_secret, secret_item, shaped_secret, without_secrets


@dataclass(frozen=True, eq=False)
class Field:
    """One stored field.

    ``type`` is one of ``FIELD_TYPES``; ``many`` means the JSON value is a list
    of such values (Dragonflow always stores list fields, ``[]`` when empty);
    ``enum`` lists the allowed values (strings, or integers for an ``int``);
    ``target`` is the table a ``reference`` points to; ``struct`` is the schema
    of an embedded object; ``secret`` fields must never be shown.
    """

    type: str
    required: bool = False
    many: bool = False
    enum: tuple[Any, ...] = ()
    target: str | None = None
    struct: Struct | None = None
    secret: bool = False
    minimum: int | None = None
    maximum: int | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if (self.type == "reference") != (self.target is not None):
            raise ValueError("a reference field needs a target table, and only it")
        if (self.type == "struct") != (self.struct is not None):
            raise ValueError("an embedded field needs a struct, and only it")

    def validate(self, value: Any, path: str, out: list[Complaint]) -> None:
        """Judge a present, non-null value stored at ``path``."""
        if self.many:
            if not isinstance(value, list):
                out.append((WRONG_TYPE, path, f"expected a list, found {describe(value)}"))
                return
            for index, item in enumerate(value):
                self._validate_one(item, f"{path}[{index}]", out)
        else:
            self._validate_one(value, path, out)

    def _validate_one(self, value: Any, path: str, out: list[Complaint]) -> None:
        if self.struct is not None:
            if not isinstance(value, dict):
                out.append((WRONG_TYPE, path, f"expected an object, found {describe(value)}"))
            else:
                self.struct.validate(value, path + ".", out)
            return
        verdict = CHECKERS[self.type](self, value)
        if verdict is not None:
            kind, message = verdict
            if self.secret:
                # A secret's value never reaches a message, not even a malformed one.
                message = f"expected a valid {self.type}, found another value (a secret: not shown)"
            out.append((kind, path, message))

    def typed(self, value: Any) -> Any:
        """The stored value as Python objects (``ipaddress`` types, ``(min, max)`` tuples).

        Networks become ``ipaddress`` interfaces so the host bits stay
        (``.ip`` is the router's address, ``.network`` the attached CIDR).
        Meant for values that passed ``validate``; others may raise ValueError.
        """
        convert = CONVERTERS.get(self.type)
        if convert is None:
            return value
        if self.many:
            if not isinstance(value, list):
                raise ValueError(f"expected a list, found {describe(value)}")
            return [convert(item) for item in value]
        return convert(value)


@dataclass(frozen=True)
class Reference:
    """A field that holds the id of an object of another table.

    ``field`` is a path: ``"lswitch"``, ``"binding.chassis"``, ``"ports[].lswitch"``
    (``[]`` walks an embedded list). ``many`` is True when the field itself is a
    list of ids (``"security_groups"``).
    """

    field: str
    target: str
    many: bool = False

    def locate(self, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every (concrete path, id) this reference holds in ``data``; ill-typed values skipped."""
        if "." not in self.field and not self.many:  # the common case: one plain id
            value = data.get(self.field)
            return [(self.field, value)] if isinstance(value, str) and value else []
        return list(_walk(data, self.field.split("."), "", self.many))


def _walk(
    data: Mapping[str, Any], steps: list[str], prefix: str, many: bool
) -> Iterator[tuple[str, str]]:
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        name = step[:-2]
        items = data.get(name)
        if not isinstance(items, list):
            return
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield from _walk(item, rest, f"{prefix}{name}[{index}].", many)
        return
    value = data.get(step)
    if rest:
        if isinstance(value, dict):
            yield from _walk(value, rest, f"{prefix}{step}.", many)
    elif many:
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str) and item:
                    yield f"{prefix}{step}[{index}]", item
    elif isinstance(value, str) and value:
        yield prefix + step, value


@dataclass(frozen=True, eq=False)
class Struct:
    """A set of fields with cross-field rules: an embedded structure or the body of a table."""

    name: str
    fields: dict[str, Field]
    rules: tuple[Rule, ...] = ()
    doc: str = ""
    _plan: tuple[tuple[str, Field, Checker | None], ...] = field(init=False, repr=False)
    _secrets: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        plan = tuple(
            (name, spec, None if spec.many or spec.struct or spec.secret else CHECKERS[spec.type])
            for name, spec in self.fields.items()
        )
        object.__setattr__(self, "_plan", plan)
        secrets = frozenset(name for name, spec in self.fields.items() if spec.secret)
        object.__setattr__(self, "_secrets", secrets)

    def has_secret(self, data: object) -> bool:
        """Whether ``data`` holds a secret: a declared secret field, an undeclared field
        that looks like a credential (a newer Dragonflow may add one), or a value with a
        secret's shape in any field (``nb/secrets.py``)."""
        if isinstance(data, list):
            return any(self.has_secret(item) for item in data)
        if not isinstance(data, dict):
            return False
        if not self._secrets.isdisjoint(data):
            return True
        for key, value in data.items():
            spec = self.fields.get(key)
            if spec is None:
                found = secret_item(key, value) or has_secret(value)
            elif spec.struct is not None:
                found = spec.struct.has_secret(value)
            else:
                found = shaped_secret(value) or has_secret(value)
            if found:
                return True
        return False

    @overload
    def without_secrets(self, data: dict[str, Any]) -> dict[str, Any]: ...
    @overload
    def without_secrets(self, data: object) -> object: ...
    def without_secrets(self, data: object) -> object:
        """A copy of ``data`` without what ``has_secret`` finds (an object stays an object)."""
        if isinstance(data, list):
            return [self.without_secrets(item) for item in data]
        if not isinstance(data, dict):
            return data
        kept: dict[str, Any] = {}
        for key, item in data.items():
            spec = self.fields.get(key)
            if spec is None:
                if not secret_item(key, item):
                    kept[key] = without_secrets(item)
            elif spec.secret or shaped_secret(item):
                continue
            elif spec.struct is not None:
                kept[key] = spec.struct.without_secrets(item)
            else:
                kept[key] = without_secrets(item)
        return kept

    def validate(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        """Append every complaint about ``data``; fields not declared here are kept silently."""
        bad: set[str] = set()
        for name, spec, scalar in self._plan:
            value = data.get(name)
            if value is None:
                if spec.required:
                    found = "null" if name in data else "the field absent"
                    message = f"expected {_what(spec)} (required), found {found}"
                    out.append((MISSING_FIELD, prefix + name, message))
                continue
            if scalar is not None:  # the common case, without building paths
                verdict = scalar(spec, value)
                if verdict is not None:
                    out.append((verdict[0], prefix + name, verdict[1]))
                    bad.add(name)
                continue
            before = len(out)
            spec.validate(value, prefix + name, out)
            if len(out) > before:
                bad.add(name)
        for rule in self.rules:
            # A rule over a field already reported would only repeat the complaint.
            if bad.isdisjoint(rule.involves()):
                rule.apply(data, prefix, out)

    def collect_references(self, prefix: str = "") -> list[Reference]:
        found: list[Reference] = []
        for name, spec in self.fields.items():
            if spec.type == "reference":
                found.append(Reference(prefix + name, spec.target or "", spec.many))
            elif spec.struct is not None:
                inner = f"{prefix}{name}{'[]' if spec.many else ''}."
                found.extend(spec.struct.collect_references(inner))
        return found

    def secret_paths(self, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for name, spec in self.fields.items():
            if spec.secret:
                found.add(prefix + name)
            if spec.struct is not None:
                inner = f"{prefix}{name}{'[]' if spec.many else ''}."
                found |= spec.struct.secret_paths(inner)
        return found


def _what(spec: Field) -> str:
    """What a field holds, as the "expected ..." part of a message."""
    if spec.many:
        return "a list"
    if spec.type == "enum" or (spec.type == "int" and spec.enum):
        return "one of " + ", ".join(show_value(v) for v in spec.enum)
    return {
        "string": "a string",
        "reference": f"the id of a {spec.target}",
        "struct": "an object",
        "ip": "an IP address",
        "network": "a network (address/prefixlen)",
        "mac": "a MAC address",
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "ip-proto": "an IP protocol number",
        "port-range": "a port range [min, max]",
        "dhcp-opts": "an object of DHCP options",
    }[spec.type]


@dataclass(frozen=True, eq=False)
class Table(Struct):
    """One NB table: the schema of the objects stored under ``/<name>/<id>``.

    ``category`` says what the table is to an operator (``topology``, ``policy``,
    ``routing``, ``runtime``, ``infrastructure``, ``control``); ``stored`` is False
    for tables Dragonflow keeps only in a controller's memory (``switch_port``);
    ``lingers`` marks records Dragonflow never deletes (``migration``), whose
    references may outlive their targets without anything being wrong.
    ``references`` and ``secret_fields`` are derived from the fields, so they can
    never disagree with them.
    """

    category: str = "topology"
    stored: bool = True
    lingers: bool = False
    references: list[Reference] = field(init=False)
    secret_fields: set[str] = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "references", self.collect_references())
        object.__setattr__(self, "secret_fields", self.secret_paths())

    def field_at(self, path: str) -> Field | None:
        """The field declared at a path such as ``"binding.chassis"`` or ``"rules[].protocol"``."""
        struct: Struct | None = self
        spec: Field | None = None
        for step in path.split("."):
            if struct is None:
                return None
            spec = struct.fields.get(step.removesuffix("[]"))
            if spec is None:
                return None
            struct = spec.struct
        return spec


# --- declaration helpers: one call per field, read like the schema tables --------------------


def string(required: bool = False, *, secret: bool = False, doc: str = "") -> Field:
    return Field("string", required, secret=secret, doc=doc)


def integer(
    required: bool = False,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[int, ...] = (),
    doc: str = "",
) -> Field:
    return Field("int", required, enum=choices, minimum=minimum, maximum=maximum, doc=doc)


def number(required: bool = False, *, doc: str = "") -> Field:
    return Field("float", required, doc=doc)


def boolean(required: bool = False, *, doc: str = "") -> Field:
    return Field("bool", required, doc=doc)


def enum(*values: str, required: bool = False, doc: str = "") -> Field:
    return Field("enum", required, enum=values, doc=doc)


def enum_list(*values: str, doc: str = "") -> Field:
    return Field("enum", many=True, enum=values, doc=doc)


def ref(target: str, required: bool = False, *, doc: str = "") -> Field:
    return Field("reference", required, target=target, doc=doc)


def ref_list(target: str, *, doc: str = "") -> Field:
    return Field("reference", many=True, target=target, doc=doc)


def ip_address(required: bool = False, *, doc: str = "") -> Field:
    return Field("ip", required, doc=doc)


def ip_network(required: bool = False, *, doc: str = "") -> Field:
    return Field("network", required, doc=doc)


def mac(required: bool = False, *, doc: str = "") -> Field:
    return Field("mac", required, doc=doc)


def ip_proto(required: bool = False, *, doc: str = "") -> Field:
    return Field("ip-proto", required, doc=doc)


def port_range(required: bool = False, *, doc: str = "") -> Field:
    return Field("port-range", required, doc=doc)


def dhcp_opts(required: bool = False, *, doc: str = "") -> Field:
    return Field("dhcp-opts", required, doc=doc)


def embedded(struct: Struct, required: bool = False, *, doc: str = "") -> Field:
    return Field("struct", required, struct=struct, doc=doc)


def list_of(item: Field, *, doc: str = "") -> Field:
    """A list of ``item`` values (Dragonflow's ListOfField / ListField)."""
    return Field(
        item.type,
        many=True,
        enum=item.enum,
        target=item.target,
        struct=item.struct,
        minimum=item.minimum,
        maximum=item.maximum,
        doc=doc or item.doc,
    )
