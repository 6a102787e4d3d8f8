"""One checker per field type: does a stored value have the type and form Dragonflow writes?

A checker returns None when the value is acceptable, else ``(kind, message)``.
Checkers read only the few declaration attributes of ``Spec`` (a ``Field``
satisfies it), so that this module does not depend on the declarations.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, Protocol

from dragonscope.nb.problems import (
    INVALID_VALUE,
    WRONG_TYPE,
    describe,
    is_int,
    quote,
    show_items,
    show_number,
)

_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_MAC_LOOSE = re.compile(r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}")
# Canonical IPv4 forms, checked by regex first: most NB addresses are IPv4 and the
# ipaddress module is an order of magnitude slower.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV4_NET = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}/(?:3[0-2]|[12]?[0-9])")


def is_canonical_ipv4(text: str) -> bool:
    """Whether ``text`` is an IPv4 address as ``ipaddress`` would write it (no leading
    zeros): then it needs no parsing to be shown or checked."""
    return _IPV4.fullmatch(text) is not None


Verdict = tuple[str, str] | None


class Spec(Protocol):
    """What a checker reads of a field declaration."""

    @property
    def enum(self) -> tuple[Any, ...]: ...

    @property
    def target(self) -> str | None: ...

    @property
    def minimum(self) -> int | None: ...

    @property
    def maximum(self) -> int | None: ...


def _check_string(f: Spec, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected a string, found {describe(value)}"
    return None


def _check_int(f: Spec, value: Any) -> Verdict:
    if not is_int(value):
        return WRONG_TYPE, f"expected an integer, found {describe(value)}"
    if f.enum and value not in f.enum:
        allowed = ", ".join(str(v) for v in f.enum)
        return INVALID_VALUE, f"expected one of {allowed}, found {show_number(value)}"
    return _check_bounds(f, value)


def _check_bounds(f: Spec, value: int) -> Verdict:
    low, high = f.minimum, f.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            span = f"at least {low}"
        elif low is None:
            span = f"at most {high}"
        else:
            span = f"between {low} and {high}"
        return INVALID_VALUE, f"expected an integer {span}, found {show_number(value)}"
    return None


def _check_float(f: Spec, value: Any) -> Verdict:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return WRONG_TYPE, f"expected a number, found {describe(value)}"
    if value != value or value in (float("inf"), float("-inf")):
        return INVALID_VALUE, f"expected a finite number, found {value!r}"
    return None


def _check_bool(f: Spec, value: Any) -> Verdict:
    if not isinstance(value, bool):
        return WRONG_TYPE, f"expected true or false, found {describe(value)}"
    return None


def _check_enum(f: Spec, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected a string, found {describe(value)}"
    if value not in f.enum:
        allowed = ", ".join(quote(v) for v in f.enum)
        return INVALID_VALUE, f"expected one of {allowed}, found {quote(value)}"
    return None


def _check_reference(f: Spec, value: Any) -> Verdict:
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


def _check_ip(f: Spec, value: Any) -> Verdict:
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected an IP address string, found {describe(value)}"
    if is_canonical_ipv4(value):
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


def _check_network(f: Spec, value: Any) -> Verdict:
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


def _check_mac(f: Spec, value: Any) -> Verdict:
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


def _check_ip_proto(f: Spec, value: Any) -> Verdict:
    if not is_int(value):
        return WRONG_TYPE, f"expected an IP protocol number, found {describe(value)}"
    if not 0 <= value <= 255:
        return INVALID_VALUE, f"expected an IP protocol number between 0 and 255, found {value}"
    return None


def _check_port_range(f: Spec, value: Any) -> Verdict:
    return _port_range_verdict(value)


def _port_range_verdict(value: Any) -> Verdict:
    if not isinstance(value, list) or len(value) != 2 or not all(is_int(v) for v in value):
        found = show_items(value)
        return WRONG_TYPE, f"expected a port range [min, max] of two integers, found {found}"
    low, high = value
    shown = f"[{show_number(low)}, {show_number(high)}]"
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        return INVALID_VALUE, f"expected ports between 0 and 65535, found {shown}"
    if low > high:
        return INVALID_VALUE, f"expected min <= max in the port range, found {shown}"
    return None


# Keys Dragonflow accepts in ``dhcp_params.opts``: option tags 1..254 as decimal strings,
# and "siaddr", which Dragonflow's own DHCP options field also accepts.
DHCP_TAGS = frozenset({*(str(tag) for tag in range(1, 255)), "siaddr"})


def _check_dhcp_opts(f: Spec, value: Any) -> Verdict:
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


Checker = Callable[[Spec, Any], Verdict]

CHECKERS: dict[str, Checker] = {
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

FIELD_TYPES = (*CHECKERS, "struct")


# --- typed views ------------------------------------------------------------------------------


def _port_range(value: Any) -> tuple[int, int]:
    if _port_range_verdict(value) is not None:
        raise ValueError(f"expected a port range [min, max], found {describe(value)}")
    return value[0], value[1]


CONVERTERS: dict[str, Callable[[Any], Any]] = {  # each raises ValueError on a bad value
    "ip": ipaddress.ip_address,
    "network": ipaddress.ip_interface,
    "port-range": _port_range,
}
