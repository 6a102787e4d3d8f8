"""The integration bridge's OpenFlow rules, read with ``ovs-ofctl -O OpenFlow13 dump-flows``.

Dragonflow's controller speaks OpenFlow 1.3 only, so the rules are dumped in that version
(set-field actions print as ``set_field:V->field``; older ``load:`` forms are read too).
``--no-stats`` leaves out the counters, so an unchanged table dumps to identical text and a
scan of an idle bridge can stop at a hash comparison.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

OFCTL = "ovs-ofctl"
# Fields of a dump line that describe the rule rather than what it matches.
_RULE_FIELDS = frozenset(
    {
        "cookie", "duration", "table", "n_packets", "n_bytes", "idle_timeout", "hard_timeout",
        "idle_age", "hard_age", "priority", "reset_counts", "send_flow_rem", "importance",
        "no_packet_counts", "no_byte_counts", "check_overlap", "out_port", "out_group",
    }
)  # fmt: skip
_TUN_DST = re.compile(
    r"set_field:([0-9.]+)->tun_dst|load:(0x[0-9a-f]+)->NXM_NX_TUN_IPV4_DST\[\]", re.IGNORECASE
)
_SET_PORT_KEY = re.compile(
    r"set_field:(0x[0-9a-f]+|\d+)->(reg[67])|load:(0x[0-9a-f]+|\d+)->NXM_NX_(REG[67])\[\]",
    re.IGNORECASE,
)
_OUTPUT = re.compile(r"(?:^|,)output:(\d+)")
DEFAULT_PRIORITY = 32768


class FlowDumpError(RuntimeError):
    """ovs-ofctl could not dump the bridge (not running, no permission, no such bridge)."""


@dataclass(frozen=True, slots=True)
class Flow:
    table: int
    priority: int
    cookie: int
    match: dict[str, str]
    actions: str
    timeout: bool  # an idle or hard timeout: learned or reactive, expected to come and go

    @property
    def tun_dst(self) -> str | None:
        """The tunnel destination this rule sets, as a dotted IP."""
        found = _TUN_DST.search(self.actions)
        if found is None:
            return None
        if found.group(1):
            return found.group(1)
        value = int(found.group(2), 16)
        return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))

    @property
    def outputs(self) -> list[int]:
        return [int(port) for port in _OUTPUT.findall(self.actions)]

    @property
    def written_keys(self) -> list[tuple[str, int]]:
        """Port keys the actions load into reg6/reg7 (an L2 lookup names its port that way)."""
        out = []
        for found in _SET_PORT_KEY.finditer(self.actions):
            value, register = found.group(1) or found.group(3), found.group(2) or found.group(4)
            out.append((register.lower(), int(value, 0)))
        return out

    def key(self, field: str) -> int | None:
        """A matched register value, when matched exactly (masked matches name no object)."""
        value = self.match.get(field)
        if value is None or "/" in value:
            return None
        try:
            return int(value, 0)
        except ValueError:
            return None


def parse_line(line: str) -> Flow | None:
    """One dump line, or None for headers and blank lines."""
    text = line.strip()
    if not text or " actions=" not in f" {text}" or text.startswith(("OFPST_", "NXST_")):
        return None
    head, _, actions = text.partition("actions=")
    fields: dict[str, str] = {}
    match: dict[str, str] = {}
    for token in head.replace(" ", ",").split(","):
        if not token:
            continue
        name, sep, value = token.partition("=")
        (fields if name in _RULE_FIELDS else match)[name] = value if sep else ""
    try:
        return Flow(
            table=int(fields.get("table", "0")),
            priority=int(fields.get("priority", str(DEFAULT_PRIORITY))),
            cookie=int(fields.get("cookie", "0"), 0),
            match=match,
            actions=actions.strip(),
            timeout="idle_timeout" in fields or "hard_timeout" in fields,
        )
    except ValueError:
        return None


def parse(text: str) -> list[Flow]:
    return [flow for line in text.splitlines() if (flow := parse_line(line)) is not None]


async def dump(target: str, timeout: float = 30.0) -> str:
    """The bridge's rules as ``ovs-ofctl`` prints them; ``target`` is a bridge name or a
    ``unix:`` path to its management socket."""
    try:
        proc = await asyncio.create_subprocess_exec(
            OFCTL, "-O", "OpenFlow13", "--no-stats", "--no-names", "dump-flows", target,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as exc:
        raise FlowDumpError(f"cannot run {OFCTL}: {exc}") from None
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise FlowDumpError(f"{OFCTL} dump-flows {target} timed out") from None
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        raise FlowDumpError(message[-1] if message else f"{OFCTL} exited {proc.returncode}")
    return out.decode(errors="replace")
