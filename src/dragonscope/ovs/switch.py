"""One chassis's Open vSwitch for one-shot questions: its ports, its rules, ``ofproto/trace``.

``--ovs CHASSIS=OVSDB[,appctl=PATH]`` names where a chassis's switch is when it is not at the
default places (a lab or a test with several switches on one host). ``ofproto/trace`` only
computes what the switch would do; it never sends a packet.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from dragonscope.ovs.flows import Flow, FlowDumpError, dump, parse
from dragonscope.ovs.probe import DEFAULT_OVSDB, ProbeSettings
from dragonscope.ovs.state import tunnel_kind

APPCTL, VSCTL = "ovs-appctl", "ovs-vsctl"


class SwitchError(RuntimeError):
    """The switch cannot be asked (not running, bad socket, program missing)."""


@dataclass(frozen=True, slots=True)
class Switch:
    chassis: str
    ovsdb: str = DEFAULT_OVSDB
    appctl: str | None = None  # the ovs-vswitchd control socket; None: OVS's default
    bridge: str = "br-int"

    @classmethod
    def parse(cls, spec: str) -> Switch:
        """``CHASSIS=OVSDB[,appctl=PATH]``."""
        chassis, sep, rest = spec.partition("=")
        if not sep or not chassis or not rest:
            raise ValueError(f"--ovs wants CHASSIS=OVSDB[,appctl=PATH], got {spec!r}")
        ovsdb, *options = rest.split(",")
        appctl = None
        for option in options:
            name, _, value = option.partition("=")
            if name != "appctl" or not value:
                raise ValueError(f"unknown --ovs option {option!r} (only appctl=PATH)")
            appctl = value
        return cls.at(chassis, ovsdb, appctl=appctl)

    @classmethod
    def at(
        cls, chassis: str, ovsdb: str, bridge: str = "br-int", appctl: str | None = None
    ) -> Switch:
        """The switch behind ``ovsdb``: without ``appctl``, the ovs-vswitchd control socket
        beside a local OVSDB socket when there is one there, else OVS's default."""
        if appctl is None and ovsdb.startswith("unix:"):
            beside = Path(ovsdb[5:]).parent / "ovs-vswitchd.ctl"
            appctl = str(beside) if beside.exists() else None
        return cls(chassis, ovsdb, appctl, bridge)

    async def ports(self) -> tuple[dict[str, int], dict[str, int]]:
        """VM interfaces (iface-id -> ofport) and tunnel ports (type -> ofport) of the bridge."""
        out = await _run(
            VSCTL, f"--db={self.ovsdb}", "--timeout=10", "--format=json", "--data=json",
            "--", "--columns=name,ofport,type,external_ids", "list", "Interface",
        )  # fmt: skip
        try:
            table = json.loads(out)
        except ValueError as exc:
            raise SwitchError(f"{VSCTL} printed no JSON: {exc}") from None
        ofports: dict[str, int] = {}
        tunnels: dict[str, int] = {}
        for name, ofport, kind, external in table.get("data", []):
            if not isinstance(ofport, int) or ofport <= 0:
                continue
            ids = dict(external[1]) if isinstance(external, list) and len(external) == 2 else {}
            if "iface-id" in ids:
                ofports[ids["iface-id"]] = ofport
            elif isinstance(name, str) and tunnel_kind(name, kind):
                tunnels[kind] = ofport
        return ofports, tunnels

    async def rules(self) -> list[Flow]:
        target = ProbeSettings(self.chassis, self.ovsdb, self.bridge).flow_target
        try:
            return parse(await dump(target))
        except FlowDumpError as exc:
            raise SwitchError(str(exc)) from None

    async def trace(self, args: list[str], timeout: float = 30.0) -> str:
        """``ovs-appctl ofproto/trace ...`` (``args`` from ``trace.real.Probe.args``)."""
        if not args or args[0] != "ofproto/trace":
            raise SwitchError("only ofproto/trace is run through a switch")
        target = ["-t", self.appctl] if self.appctl else []
        return await _run(APPCTL, *target, *args, timeout=timeout)


async def _run(program: str, *args: str, timeout: float = 30.0) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            program, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise SwitchError(f"cannot run {program}: {exc}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SwitchError(f"{program} timed out") from None
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise SwitchError(lines[-1] if lines else f"{program} exited {proc.returncode}")
    return out.decode(errors="replace")
