"""What the operator asks: a trace question, checked field by field as it arrives.

Sources: an lport id or name, ``IP`` or ``IP@network``, or ``external`` (a host on the
physical network, arriving on a chosen chassis). Destinations: an lport, an IP (a port's,
a floating IP, or any outside address), or ``metadata``. ``resolve`` turns the question
into a concrete first packet.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dragonscope.graph import Json
from dragonscope.trace.model import TraceError
from dragonscope.trace.objects import ip

PROTOCOLS = ("tcp", "udp", "icmp", "icmp6", "arp", "dhcp")


@dataclass(slots=True)
class TraceRequest:
    """A trace question; only ``source`` is required."""

    source: str
    destination: str | None = None
    proto: str | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    ttl: int | None = None
    vlan: int | None = None
    chassis: str | None = None
    eth_src: str | None = None
    eth_dst: str | None = None
    ip_src: str | None = None
    ip_dst: str | None = None
    ct: bool = False
    reply: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise TraceError("a source is required (lport id or name, IP, IP@network, external)")
        if self.proto is not None and self.proto not in PROTOCOLS:
            raise TraceError(f"unknown protocol {self.proto!r}; use one of {', '.join(PROTOCOLS)}")
        limits = {
            "sport": 65535,
            "dport": 65535,
            "icmp_type": 255,
            "icmp_code": 255,
            "ttl": 255,
            "vlan": 4095,
        }
        for name, top in limits.items():
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top
            ):
                raise TraceError(f"{name} must be an integer from 0 to {top}, got {value!r}")
        for name in ("ip_src", "ip_dst"):
            value = getattr(self, name)
            if value is not None and ip(value) is None:
                raise TraceError(f"{name} is not an IP address: {value!r}")
        for name in ("eth_src", "eth_dst"):
            value = getattr(self, name)
            if value is not None and not _is_mac(value):
                raise TraceError(f"{name} is not a MAC address: {value!r}")

    @classmethod
    def from_json(cls, body: Json) -> TraceRequest:
        """Build from a JSON object (the API body); unknown keys are an error, not ignored."""
        if not isinstance(body, dict):
            raise TraceError("the request must be a JSON object")
        names = {f.name for f in fields(cls)}
        aliases = {"from": "source", "to": "destination"}
        kwargs: dict[str, Any] = {}
        for key, value in body.items():
            name = aliases.get(key, key)
            if name not in names:
                raise TraceError(f"unknown field {key!r}")
            kwargs[name] = value
        for flag in ("ct", "reply"):
            if flag in kwargs and not isinstance(kwargs[flag], bool):
                raise TraceError(f"{flag} must be true or false")
        for text in (
            "source",
            "destination",
            "proto",
            "chassis",
            "eth_src",
            "eth_dst",
            "ip_src",
            "ip_dst",
        ):
            if kwargs.get(text) is not None and not isinstance(kwargs[text], str):
                raise TraceError(f"{text} must be a string")
        if "source" not in kwargs:
            raise TraceError('a source is required ("from")')
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) not in (None, False)
        }


def _is_mac(value: Any) -> bool:
    parts = value.split(":") if isinstance(value, str) else []
    return len(parts) == 6 and all(
        len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts
    )
