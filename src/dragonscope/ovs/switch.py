"""One chassis's Open vSwitch for one-shot questions: its ports, its rules, ``ofproto/trace``.

``--ovs CHASSIS=OVSDB[,appctl=PATH][,physnet=NAME:BRIDGE...]`` names where a chassis's switch
is when it is not at the default places (a lab or a test with several switches on one host),
and its bridge mappings (Dragonflow's ``bridge_mappings``: the provider app links each
physical network's bridge to br-int by a patch port named ``<bridge>-patch``).
``ofproto/trace`` only computes what the switch would do; it never sends a packet.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from dragonscope.config import DF_BRIDGE_MAPPINGS
from dragonscope.ovs.flows import Flow, FlowDumpError, dump, parse
from dragonscope.ovs.probe import DEFAULT_OVSDB, ProbeSettings
from dragonscope.ovs.state import (
    METADATA_INTERFACE,
    BridgePorts,
    patch_name,
    snat_bridge,
    tunnel_kind,
)

APPCTL, VSCTL = "ovs-appctl", "ovs-vsctl"


class SwitchError(RuntimeError):
    """The switch cannot be asked (not running, bad socket, program missing)."""


@dataclass(frozen=True, slots=True)
class Switch:
    chassis: str
    ovsdb: str = DEFAULT_OVSDB
    appctl: str | None = None  # the ovs-vswitchd control socket; None: OVS's default
    bridge: str = "br-int"
    # (physical network, its bridge): Dragonflow's bridge_mappings, by default its default.
    mappings: tuple[tuple[str, str], ...] = DF_BRIDGE_MAPPINGS

    @classmethod
    def parse(cls, spec: str) -> Switch:
        """``CHASSIS=OVSDB[,appctl=PATH][,physnet=NAME:BRIDGE...]``."""
        chassis, sep, rest = spec.partition("=")
        if not sep or not chassis or not rest:
            raise ValueError(f"--ovs wants CHASSIS=OVSDB[,appctl=PATH], got {spec!r}")
        ovsdb, *options = rest.split(",")
        appctl = None
        mappings = []
        for option in options:
            name, _, value = option.partition("=")
            physnet, _, bridge = value.partition(":")
            if name == "appctl" and value:
                appctl = value
            elif name == "physnet" and physnet and bridge:
                mappings.append((physnet, bridge))
            else:
                raise ValueError(
                    f"unknown --ovs option {option!r} (appctl=PATH, physnet=NAME:BRIDGE)"
                )
        return cls.at(chassis, ovsdb, appctl=appctl, mappings=tuple(mappings))

    @classmethod
    def at(
        cls,
        chassis: str,
        ovsdb: str,
        bridge: str = "br-int",
        appctl: str | None = None,
        mappings: tuple[tuple[str, str], ...] = (),
    ) -> Switch:
        """The switch behind ``ovsdb``: without ``appctl``, the ovs-vswitchd control socket
        beside a local OVSDB socket when there is one there, else OVS's default."""
        if appctl is None and ovsdb.startswith("unix:"):
            beside = Path(ovsdb[5:]).parent / "ovs-vswitchd.ctl"
            appctl = str(beside) if beside.exists() else None
        return cls(chassis, ovsdb, appctl, bridge, mappings or DF_BRIDGE_MAPPINGS)

    async def ports(self) -> BridgePorts:
        """The bridge's VM interfaces, tunnel ports, patch ports of mapped physical networks
        and metadata tap, by their OpenFlow ports."""
        out = await _run(
            VSCTL, f"--db={self.ovsdb}", "--timeout=10", "--format=json", "--data=json",
            "--", "--columns=name,ofport,type,external_ids,mac_in_use", "list", "Interface",
        )  # fmt: skip
        try:
            table = json.loads(out)
        except ValueError as exc:
            raise SwitchError(f"{VSCTL} printed no JSON: {exc}") from None
        ofports: dict[str, int] = {}
        tunnels: dict[str, int] = {}
        patches: dict[str, int] = {}
        metadata = snat = None
        macs: dict[str, str] = {}
        by_patch = {patch_name(bridge): physnet for physnet, bridge in self.mappings}
        external_bridge = None
        for name, ofport, kind, external, mac in table.get("data", []):
            if isinstance(name, str) and isinstance(mac, str):
                macs[name] = mac
            if not isinstance(ofport, int) or ofport <= 0:
                continue
            ids = dict(external[1]) if isinstance(external, list) and len(external) == 2 else {}
            if "iface-id" in ids:
                ofports[ids["iface-id"]] = ofport
            elif isinstance(name, str) and tunnel_kind(name, kind):
                tunnels[kind] = ofport
            elif kind == "patch" and name in by_patch:
                patches[by_patch[name]] = ofport
            elif name == METADATA_INTERFACE:
                metadata = ofport
            elif isinstance(name, str) and (bridge := snat_bridge(name, kind)):
                snat, external_bridge = ofport, bridge
        bridge_mac = macs.get(external_bridge) if external_bridge else None
        return BridgePorts(ofports, tunnels, patches, metadata, snat, bridge_mac)

    async def rules(self) -> list[Flow]:
        target = ProbeSettings(self.chassis, self.ovsdb, self.bridge).flow_target
        try:
            return parse(await dump(target))
        except FlowDumpError as exc:
            raise SwitchError(str(exc)) from None

    async def trace(self, args: list[str], timeout: float = 30.0) -> str:
        """``ovs-appctl ofproto/trace ...`` or its ``trace-packet-out`` form, which goes on
        from a table (``args`` from ``trace.real.Probe.args``)."""
        if not args or args[0] not in ("ofproto/trace", "ofproto/trace-packet-out"):
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
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SwitchError(f"{program} timed out") from None
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise SwitchError(lines[-1] if lines else f"{program} exited {proc.returncode}")
    return out.decode(errors="replace")
