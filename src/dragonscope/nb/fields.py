"""The vocabulary the NB schema is declared in: field types, structures, tables.

A field knows how Dragonflow encodes one value in JSON and how to judge a
stored value; a structure is a set of fields plus cross-field rules; a table is
a top-level structure with a name. Validation never raises: it appends
``(kind, path, message)`` complaints so that one bad value never hides the rest
of the object. The table declarations themselves live in ``nb/schema.py``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Complaint = tuple[str, str, str]
"""(problem kind, field path, message): a Problem without its table and id."""

# Problem kinds, as they appear in ``Problem.kind``.
INVALID_JSON = "invalid-json"
NOT_AN_OBJECT = "not-an-object"
UNKNOWN_TABLE = "unknown-table"
MISSING_FIELD = "missing-field"
WRONG_TYPE = "wrong-type"
INVALID_VALUE = "invalid-value"
ID_MISMATCH = "id-mismatch"
DANGLING_REFERENCE = "dangling-reference"
DUPLICATE_ID = "duplicate-id"
DUPLICATE_KEY = "duplicate-key"
DUPLICATE_ADDRESS = "duplicate-address"
INCONSISTENT = "inconsistent"

PROBLEM_KINDS = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    UNKNOWN_TABLE,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_VALUE,
    ID_MISMATCH,
    DANGLING_REFERENCE,
    DUPLICATE_ID,
    DUPLICATE_KEY,
    DUPLICATE_ADDRESS,
    INCONSISTENT,
)

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_MAC_LOOSE = re.compile(r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}")
# Canonical IPv4 forms, checked by regex first: most NB addresses are IPv4 and the
# ipaddress module is an order of magnitude slower.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV4_NET = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}/(?:3[0-2]|[12]?[0-9])")
_SHOWN = 60  # longest stored string quoted back in a message


def describe(value: Any) -> str:
    """Name a JSON value the way an operator reads it: its JSON type and a short excerpt."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"number {_number(value)}"
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _number(value: float) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def quote(text: Any) -> str:
    """Stored text quoted for a one-line message: escaped, and cut when long."""
    text = str(text)
    if len(text) > _SHOWN:
        return json.dumps(text[:_SHOWN], ensure_ascii=False) + "..."
    return json.dumps(text, ensure_ascii=False)


# --- one checker per field type -------------------------------------------------------------
# A checker returns None when the value is acceptable, else (kind, message).

Verdict = tuple[str, str] | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_string(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected a string, found {describe(value)}"
    return None


def _check_int(f: Field, value: Any) -> Verdict:
    if not _is_int(value):
        return WRONG_TYPE, f"expected an integer, found {describe(value)}"
    if f.enum and value not in f.enum:
        allowed = ", ".join(str(v) for v in f.enum)
        return INVALID_VALUE, f"expected one of {allowed}, found {_number(value)}"
    return _check_bounds(f, value)


def _check_bounds(f: Field, value: int) -> Verdict:
    low, high = f.minimum, f.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            span = f"at least {low}"
        elif low is None:
            span = f"at most {high}"
        else:
            span = f"between {low} and {high}"
        return INVALID_VALUE, f"expected an integer {span}, found {_number(value)}"
    return None


def _check_float(f: Field, value: Any) -> Verdict:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return WRONG_TYPE, f"expected a number, found {describe(value)}"
    if value != value or value in (float("inf"), float("-inf")):
        return INVALID_VALUE, f"expected a finite number, found {value!r}"
    return None


def _check_bool(f: Field, value: Any) -> Verdict:
    if not isinstance(value, bool):
        return WRONG_TYPE, f"expected true or false, found {describe(value)}"
    return None


def _check_enum(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected a string, found {describe(value)}"
    if value not in f.enum:
        allowed = ", ".join(quote(v) for v in f.enum)
        return INVALID_VALUE, f"expected one of {allowed}, found {quote(value)}"
    return None


def _check_reference(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected the id string of a {f.target}, found {describe(value)}"
    if not value:
        return INVALID_VALUE, f"expected the id of a {f.target}, found an empty string"
    return None


def _canonical_address(text: str) -> str:
    """The address as Dragonflow writes it; ValueError if ``text`` is not an address.

    IPv4-mapped IPv6 addresses are written with a dotted tail (``::ffff:10.0.0.1``),
    as netaddr does; IPv6 scope ids (``%eth0``) never occur in the NB DB.
    """
    if "%" in text:
        raise ValueError(text)
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _check_ip(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected an IP address string, found {describe(value)}"
    if _IPV4.fullmatch(value):
        return None
    try:
        canonical = _canonical_address(value)
    except ValueError:
        return INVALID_VALUE, f"expected an IPv4 or IPv6 address, found {describe(value)}"
    if canonical != value:
        return INVALID_VALUE, (
            f"expected an IP address in canonical form ({quote(canonical)}), "
            f"found {describe(value)}"
        )
    return None


def _check_network(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected an address/prefixlen string, found {describe(value)}"
    if _IPV4_NET.fullmatch(value):
        return None
    address, slash, prefix = value.partition("/")
    try:
        if not slash or not prefix.isdigit():
            raise ValueError(value)
        # ip_interface keeps host bits, as Dragonflow does ("10.10.1.1/24" on router ports).
        iface = ipaddress.ip_interface(value)
        canonical = f"{_canonical_address(address)}/{iface.network.prefixlen}"
    except ValueError:
        return INVALID_VALUE, (
            f"expected an IPv4 or IPv6 network as address/prefixlen, found {describe(value)}"
        )
    if canonical != value:
        return INVALID_VALUE, (
            f"expected a network in canonical form ({quote(canonical)}), found {describe(value)}"
        )
    return None


def _check_mac(f: Field, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected a MAC address string, found {describe(value)}"
    if _MAC.fullmatch(value):
        return None
    if _MAC_LOOSE.fullmatch(value):
        canonical = value.lower().replace("-", ":")
        return INVALID_VALUE, (
            f"expected a MAC address in canonical form ({quote(canonical)}), "
            f"found {describe(value)}"
        )
    return INVALID_VALUE, (
        f'expected a MAC address like "fa:16:3e:00:00:01", found {describe(value)}'
    )


def _check_ip_proto(f: Field, value: Any) -> Verdict:
    if not _is_int(value):
        return WRONG_TYPE, f"expected an IP protocol number, found {describe(value)}"
    if not 0 <= value <= 255:
        return INVALID_VALUE, f"expected an IP protocol number between 0 and 255, found {value}"
    return None


def _check_port_range(f: Field, value: Any) -> Verdict:
    if not isinstance(value, list) or len(value) != 2 or not all(_is_int(v) for v in value):
        return WRONG_TYPE, f"expected a port range [min, max] of two integers, found {_show(value)}"
    low, high = value
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        return (
            INVALID_VALUE,
            f"expected ports between 0 and 65535, found [{_number(low)}, {_number(high)}]",
        )
    if low > high:
        return (
            INVALID_VALUE,
            f"expected min <= max in the port range, found [{_number(low)}, {_number(high)}]",
        )
    return None


# Keys Dragonflow accepts in ``dhcp_params.opts``: option tags 1..254 as decimal strings,
# and "siaddr", which Dragonflow's own DHCP options field also accepts.
DHCP_TAGS = frozenset({*(str(tag) for tag in range(1, 255)), "siaddr"})


def _check_dhcp_opts(f: Field, value: Any) -> Verdict:
    if not isinstance(value, dict):
        return WRONG_TYPE, f"expected an object of DHCP options, found {describe(value)}"
    for tag, text in value.items():
        if tag not in DHCP_TAGS:
            return INVALID_VALUE, (
                f'expected DHCP option tags "1" to "254" or "siaddr", found key {quote(tag)}'
            )
        if not isinstance(text, str):
            return WRONG_TYPE, (
                f"expected a string value for DHCP option {tag}, found {describe(text)}"
            )
    return None


def _show(value: Any) -> str:
    if isinstance(value, list) and len(value) <= 4:
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return describe(value)


Checker = Callable[["Field", Any], Verdict]

_CHECKERS: dict[str, Checker] = {
    "string": _check_string,
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "enum": _check_enum,
    "reference": _check_reference,
    "ip": _check_ip,
    "network": _check_network,
    "mac": _check_mac,
    "ip-proto": _check_ip_proto,
    "port-range": _check_port_range,
    "dhcp-opts": _check_dhcp_opts,
}

FIELD_TYPES = (*_CHECKERS, "struct")


# --- typed views ------------------------------------------------------------------------------


def _port_range(value: Any) -> tuple[int, int]:
    if _check_port_range(PORT_RANGE, value) is not None:
        raise ValueError(f"expected a port range [min, max], found {describe(value)}")
    return value[0], value[1]


_CONVERTERS: dict[str, Callable[[Any], Any]] = {  # each raises ValueError on a bad value
    "ip": ipaddress.ip_address,
    "network": ipaddress.ip_interface,
    "port-range": _port_range,
}


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
        verdict = _CHECKERS[self.type](self, value)
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
        convert = _CONVERTERS.get(self.type)
        if convert is None:
            return value
        if self.many:
            if not isinstance(value, list):
                raise ValueError(f"expected a list, found {describe(value)}")
            return [convert(item) for item in value]
        return convert(value)


# --- cross-field rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class RequiredWhen:
    """``field`` must be set when ``when`` holds one of ``values`` (e.g. VLAN id for vlan)."""

    field: str
    when: str
    values: tuple[Any, ...]

    def involves(self) -> tuple[str, ...]:
        return (self.field, self.when)

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        if data.get(self.when) in self.values and data.get(self.field) is None:
            out.append(
                (
                    MISSING_FIELD,
                    prefix + self.field,
                    f"expected a value (required when {self.when} is "
                    f"{_show_value(data[self.when])}), found the field absent",
                )
            )


@dataclass(frozen=True)
class ExactlyOne:
    """Exactly one of ``fields`` must be set (e.g. a flow classifier's source or dest port)."""

    fields: tuple[str, ...]

    def involves(self) -> tuple[str, ...]:
        return self.fields

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        present = [name for name in self.fields if data.get(name) is not None]
        names = " or ".join(self.fields)
        if not present:
            out.append((MISSING_FIELD, prefix + self.fields[0], f"expected {names}, found neither"))
        elif len(present) > 1:
            out.append(
                (INVALID_VALUE, prefix + present[1], f"expected only one of {names}, found both")
            )


@dataclass(frozen=True)
class Ordered:
    """``low`` <= ``high`` when both are set, unless ``unless`` holds one of ``unless_values``.

    Security-group port ranges are ordered for TCP/UDP, but for ICMP the pair is
    (type, code) and carries no order.
    """

    low: str
    high: str
    unless: str = ""
    unless_values: tuple[Any, ...] = ()

    def involves(self) -> tuple[str, ...]:
        return (self.low, self.high, self.unless)

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        low, high = data.get(self.low), data.get(self.high)
        if not (_is_int(low) and _is_int(high)) or low <= high:
            return
        if self.unless and data.get(self.unless) in self.unless_values:
            return
        out.append(
            (
                INVALID_VALUE,
                prefix + self.low,
                f"expected {self.low} <= {self.high}, found {_number(low)} > {_number(high)}",
            )
        )


@dataclass(frozen=True)
class SameFamily:
    """The IP version of ``field`` must match ``family``.

    ``family`` names an ethertype field ("IPv4"/"IPv6"), an ip_version field
    (4/6), or another address/network field whose version must be the same.
    """

    field: str
    family: str

    def involves(self) -> tuple[str, ...]:
        return (self.field, self.family)

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        # Rules only run over fields that passed their own checks, so an address or
        # network here is valid and its version shows in its text.
        value, family = data.get(self.field), data.get(self.family)
        if not isinstance(value, str) or family is None:
            return
        expected = _version_of(family)
        version = 6 if ":" in value else 4
        if expected is not None and version != expected:
            out.append(
                (
                    INVALID_VALUE,
                    prefix + self.field,
                    f"expected an IPv{expected} value as {self.family} is "
                    f"{_show_value(family)}, found {describe(value)}",
                )
            )


def _version_of(family: Any) -> int | None:
    if family in ("IPv4", 4):
        return 4
    if family in ("IPv6", 6):
        return 6
    if isinstance(family, str):  # a validated address or network
        return 6 if ":" in family else 4
    return None


@dataclass(frozen=True)
class Distinct:
    """The embedded objects of list ``items`` must not share a value of ``key`` (their ids)."""

    items: str
    key: str = "id"

    def involves(self) -> tuple[str, ...]:
        return (self.items,)

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        seen: dict[Any, int] = {}
        for index, item in enumerate(_dicts(data.get(self.items))):
            value = item.get(self.key)
            if not isinstance(value, str | int) or isinstance(value, bool):
                continue
            if value in seen:
                out.append(
                    (
                        DUPLICATE_ID,
                        f"{prefix}{self.items}[{index}].{self.key}",
                        f"expected distinct {self.key}s in {self.items}, found "
                        f"{_show_value(value)} also at {self.items}[{seen[value]}]",
                    )
                )
            else:
                seen[value] = index


@dataclass(frozen=True)
class SameLength:
    """Two parallel lists (an lport's ``ips`` and ``subnets``) must have the same length."""

    first: str
    second: str

    def involves(self) -> tuple[str, ...]:
        return (self.first, self.second)

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        first, second = data.get(self.first), data.get(self.second)
        if isinstance(first, list) and isinstance(second, list) and len(first) != len(second):
            out.append(
                (
                    INCONSISTENT,
                    prefix + self.second,
                    f"expected one entry per entry of {self.first} ({len(first)}), "
                    f"found {len(second)}",
                )
            )


@dataclass(frozen=True)
class OwnedBy:
    """Each embedded object of ``items`` names its owner in ``field``: it must be this object.

    A security-group rule carries ``security_group_id``; a rule copied from
    another group would apply under the wrong conjunction id.
    """

    items: str
    field: str

    def involves(self) -> tuple[str, ...]:
        return (self.items, "id")

    def apply(self, data: Mapping[str, Any], prefix: str, out: list[Complaint]) -> None:
        owner = data.get("id")
        for index, item in enumerate(_dicts(data.get(self.items))):
            value = item.get(self.field)
            if isinstance(value, str) and value != owner:
                out.append(
                    (
                        INCONSISTENT,
                        f"{prefix}{self.items}[{index}].{self.field}",
                        f"expected the id of the object holding it, {_show_value(owner)}, "
                        f"found {describe(value)}",
                    )
                )


def _dicts(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [item if isinstance(item, dict) else {} for item in items]


Rule = RequiredWhen | ExactlyOne | Ordered | SameFamily | Distinct | SameLength | OwnedBy


def _show_value(value: Any) -> str:
    return quote(value) if isinstance(value, str) else _number(value)


# --- secrets ------------------------------------------------------------------------------------

# Undeclared fields with these words in their name are treated as secrets.
_SECRET_WORDS = ("password", "secret", "token")


def looks_secret(key: Any) -> bool:
    name = str(key).lower()
    return any(word in name for word in _SECRET_WORDS)


def has_secret(value: Any) -> bool:
    """Whether undeclared JSON holds a key that looks like a credential, at any depth."""
    if isinstance(value, dict):
        return any(looks_secret(k) or has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_secret(item) for item in value)
    return False


def without_secrets(value: Any) -> Any:
    """A copy of undeclared JSON without the keys ``has_secret`` finds."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not looks_secret(k)}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


# --- structures, tables, references ----------------------------------------------------------


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
    _embedded: tuple[tuple[str, Struct], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        plan = tuple(
            (name, spec, None if spec.many or spec.struct or spec.secret else _CHECKERS[spec.type])
            for name, spec in self.fields.items()
        )
        object.__setattr__(self, "_plan", plan)
        secrets = frozenset(name for name, spec in self.fields.items() if spec.secret)
        object.__setattr__(self, "_secrets", secrets)
        embedded = tuple((n, f.struct) for n, f in self.fields.items() if f.struct is not None)
        object.__setattr__(self, "_embedded", embedded)

    def has_secret(self, data: Any) -> bool:
        """Whether ``data`` holds a secret: a declared secret field, or an undeclared field
        whose name looks like a credential (a newer Dragonflow may add one)."""
        if isinstance(data, list):
            return any(self.has_secret(item) for item in data)
        if not isinstance(data, dict):
            return False
        if not self._secrets.isdisjoint(data):
            return True
        extra = data.keys() - self.fields.keys()
        if extra and any(looks_secret(key) or has_secret(data[key]) for key in extra):
            return True
        return any(name in data and inner.has_secret(data[name]) for name, inner in self._embedded)

    def without_secrets(self, data: Any) -> Any:
        """A copy of ``data`` without what ``has_secret`` finds."""
        if isinstance(data, list):
            return [self.without_secrets(item) for item in data]
        if not isinstance(data, dict):
            return data
        kept: dict[str, Any] = {}
        for key, item in data.items():
            spec = self.fields.get(key)
            if spec is None:
                if not looks_secret(key):
                    kept[key] = without_secrets(item)
            elif not spec.secret:
                kept[key] = item if spec.struct is None else spec.struct.without_secrets(item)
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
        return "one of " + ", ".join(_show_value(v) for v in spec.enum)
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


PORT_RANGE = Field("port-range")


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
