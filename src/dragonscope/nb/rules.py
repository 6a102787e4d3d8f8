"""Cross-field rules: what one field alone cannot tell about an object.

Each rule names the fields it ``involves`` (a rule over a field already reported
would only repeat the complaint) and ``apply`` appends its complaints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dragonscope.nb.problems import (
    DUPLICATE_ID,
    INCONSISTENT,
    INVALID_VALUE,
    MISSING_FIELD,
    Complaint,
    describe,
    is_int,
    show_number,
    show_value,
)


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
                    f"{show_value(data[self.when])}), found the field absent",
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
        if not (is_int(low) and is_int(high)) or low <= high:
            return
        if self.unless and data.get(self.unless) in self.unless_values:
            return
        out.append(
            (
                INVALID_VALUE,
                prefix + self.low,
                f"expected {self.low} <= {self.high}, "
                f"found {show_number(low)} > {show_number(high)}",
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
                    f"{show_value(family)}, found {describe(value)}",
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
                        f"{show_value(value)} also at {self.items}[{seen[value]}]",
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
                        f"expected the id of the object holding it, {show_value(owner)}, "
                        f"found {describe(value)}",
                    )
                )


def _dicts(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [item if isinstance(item, dict) else {} for item in items]


Rule = RequiredWhen | ExactlyOne | Ordered | SameFamily | Distinct | SameLength | OwnedBy
