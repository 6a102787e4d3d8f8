"""A real userspace Open vSwitch per test chassis, in a temporary directory.

``ovsdb-server`` and ``ovs-vswitchd --enable-dummy`` run on their own unix sockets in the
directory (no kernel module, no system service touched); bridges use ``datapath_type=dummy``
and interfaces ``type=dummy``. Every process is started here and stopped here by its pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from dragonscope.collector.ovs_drift import KEPT_FIELDS
from dragonscope.nb import Change, Snapshot
from dragonscope.ovs.nbview import NB_FIELDS
from dragonscope.topology import SNAPSHOT_ORDER, Topology
from servers import EtcdServer, require

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


# A two-chassis cloud the tests and the UI tests share: both chassis on one VXLAN network, each
# with two VM interfaces (iface-id set as Nova does), a vxlan-vtp tunnel port and
# Dragonflow-shaped flows for its own ports and towards the other chassis's ports.
CHASSIS = {"c1": "10.0.1.1", "c2": "10.0.1.2"}
NETWORK = {"id": "net1", "unique_key": 3, "network_type": "vxlan", "segmentation_id": 73}
# port id -> (unique_key, chassis, ofport, MAC)
PORTS = {
    "p1": (10, "c1", 7, "fa:16:3e:00:00:0a"),
    "p2": (11, "c1", 8, "fa:16:3e:00:00:0b"),
    "p3": (12, "c2", 7, "fa:16:3e:00:00:0c"),
    "p4": (13, "c2", 8, "fa:16:3e:00:00:0d"),
}
VTP_OFPORT = 4


def port_flows(key: int, ofport: int, mac: str) -> list[str]:
    return [
        f"table=0,priority=100,in_port={ofport} "
        f"actions=set_field:{key:#x}->reg6,set_field:0x3->metadata,resubmit(,1)",
        f"table=55,priority=100,metadata=0x3,dl_dst={mac} actions=set_field:{key:#x}->reg7",
        f"table=115,priority=100,reg7={key:#x} actions=output:{ofport}",
    ]


def remote_flow(key: int, ip: str) -> str:
    return (
        f"table=75,priority=100,reg7={key:#x} actions=set_field:{ip}->tun_dst,"
        f"set_field:0x49->tun_id,output:{VTP_OFPORT}"
    )


class OvsSwitch:
    """One chassis's Open vSwitch: ``start()``, then ``vsctl``/``ofctl``, then ``cleanup()``."""

    def __init__(self, name: str = "ovs", vswitchd: bool = True) -> None:
        self.vswitchd = vswitchd  # without it, ovs-vsctl must not wait for the switch
        # Unix socket paths are limited to ~100 bytes: keep the directory short.
        self.dir = Path(tempfile.mkdtemp(prefix=f"ds-{name}-", dir="/tmp"))
        self.db = self.dir / "conf.db"
        self.sock = self.dir / "db.sock"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ, OVS_RUNDIR=str(self.dir), OVS_LOGDIR=str(self.dir))

    @property
    def remote(self) -> str:
        return f"unix:{self.sock}"

    def mgmt(self, bridge: str) -> str:
        return f"unix:{self.dir / bridge}.mgmt"

    def start(self) -> None:
        subprocess.run(
            [require("ovsdb-tool"), "create", str(self.db), str(SCHEMA)],
            check=True, capture_output=True,
        )  # fmt: skip
        self.start_ovsdb()
        self.vsctl("init")
        if not self.vswitchd:
            return
        self._spawn(
            "ovs-vswitchd",
            [
                require("ovs-vswitchd"), "--enable-dummy", self.remote,
                f"--unixctl={self.dir / 'ovs-vswitchd.ctl'}",
                f"--pidfile={self.dir / 'ovs-vswitchd.pid'}",
                f"--log-file={self.dir / 'ovs-vswitchd.log'}",
            ],
        )  # fmt: skip
        self._wait(lambda: (self.dir / "ovs-vswitchd.ctl").exists(), "ovs-vswitchd")

    def start_ovsdb(self) -> None:
        self._spawn(
            "ovsdb-server",
            [
                require("ovsdb-server"), str(self.db), f"--remote=punix:{self.sock}",
                f"--unixctl={self.dir / 'ovsdb-server.ctl'}",
                f"--pidfile={self.dir / 'ovsdb-server.pid'}",
                f"--log-file={self.dir / 'ovsdb-server.log'}",
            ],
        )  # fmt: skip
        self._wait(self.sock.exists, "ovsdb-server")

    def restart_ovsdb(self) -> None:
        """Kill ovsdb-server (SIGKILL, as a crash) and start it again on the same database."""
        self._stop("ovsdb-server", signal.SIGKILL)
        self.sock.unlink(missing_ok=True)
        self.start_ovsdb()

    def vsctl(self, *args: str) -> str:
        wait = [] if self.vswitchd and (self.dir / "ovs-vswitchd.ctl").exists() else ["--no-wait"]
        return self._run(
            [require("ovs-vsctl"), f"--db={self.remote}", "--timeout=20", *wait, *args]
        )

    def ofctl(self, command: str, bridge: str, *args: str) -> str:
        ofctl = require("ovs-ofctl")
        return self._run([ofctl, "-O", "OpenFlow13", command, self.mgmt(bridge), *args])

    def add_flows(self, bridge: str, flows: list[str]) -> None:
        path = self.dir / "flows.txt"
        path.write_text("\n".join(flows) + "\n")
        self.ofctl("add-flows", bridge, str(path))

    def db_transactions(self) -> int:
        """Records in the database file: every committed transaction appends one."""
        lines = self.db.read_bytes().splitlines()
        return sum(1 for line in lines if line.startswith(b"OVSDB JSON"))

    def add_bridge(self, bridge: str) -> None:
        self.vsctl(
            "add-br", bridge, "--", "set", "Bridge", bridge, "datapath_type=dummy",
            "protocols=OpenFlow10,OpenFlow13", "fail_mode=secure",
        )  # fmt: skip

    def add_vm_port(
        self, bridge: str, name: str, iface_id: str, mac: str, ofport: int | None = None
    ) -> None:
        extra = [f"ofport_request={ofport}"] if ofport else []
        self.vsctl(
            "add-port", bridge, name, "--", "set", "Interface", name, "type=dummy",
            f"external_ids:iface-id={iface_id}", f"external_ids:attached-mac={mac}",
            f"external_ids:vm-uuid=vm-{name}", "external_ids:iface-status=active", *extra,
        )  # fmt: skip

    def add_tunnel_port(self, bridge: str, kind: str, local_ip: str, ofport: int) -> None:
        name = f"{kind}-vtp"
        self.vsctl(
            "add-port", bridge, name, "--", "set", "Interface", name, f"type={kind}",
            "options:remote_ip=flow", "options:key=flow", f"options:local_ip={local_ip}",
            f"ofport_request={ofport}",
        )  # fmt: skip

    def add_patch_pair(self, bridge: str, peer_bridge: str) -> None:
        """A patch port on each bridge, peers of each other (br-int to a provider bridge)."""
        here, there = f"patch-{peer_bridge}", f"patch-{bridge}"
        for name, on, peer in ((here, bridge, there), (there, peer_bridge, here)):
            self.vsctl(
                "add-port", on, name, "--", "set", "Interface", name, "type=patch",
                f"options:peer={peer}",
            )  # fmt: skip

    def receive(self, interface: str, frame: bytes) -> None:
        """Inject one Ethernet frame as if it arrived on a dummy interface."""
        appctl = require("ovs-appctl")
        control = str(self.dir / "ovs-vswitchd.ctl")
        self._run([appctl, "-t", control, "netdev-dummy/receive", interface, frame.hex()])

    def cleanup(self) -> None:
        for name in list(self.procs):
            self._stop(name, signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------------------
    def _run(self, command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def _spawn(self, name: str, command: list[str]) -> None:
        with open(self.dir / f"{name}.out", "ab") as out:
            self.procs[name] = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=self.dir, env=self.env
            )

    def _stop(self, name: str, sig: int) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def _wait(self, ready: object, what: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if ready():  # type: ignore[operator]
                return
            time.sleep(0.02)
        log = (self.dir / f"{what}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{what} did not start:\n{log}")


def write_nb(server: EtcdServer) -> None:
    """The NB of the two-chassis cloud: its chassis, one VXLAN network, four bound ports."""
    for name, ip in CHASSIS.items():
        server.put(
            f"/chassis/{name}", json.dumps({"id": name, "ip": ip, "tunnel_types": ["vxlan"]})
        )
    server.put("/lswitch/net1", json.dumps({**NETWORK, "topic": "t1", "name": "net1"}))
    for port, (key, chassis, _ofport, mac) in PORTS.items():
        obj = {
            "id": port, "topic": "t1", "name": port, "unique_key": key, "lswitch": "net1",
            "macs": [mac], "enabled": True, "binding": {"type": "chassis", "chassis": chassis},
        }  # fmt: skip
        server.put(f"/lport/{port}", json.dumps(obj))


def switch_for(chassis: str) -> OvsSwitch:
    switch = OvsSwitch(chassis)
    switch.start()
    switch.add_bridge("br-int")
    switch.add_tunnel_port("br-int", "vxlan", CHASSIS[chassis], VTP_OFPORT)
    flows = []
    for port, (key, where, ofport, mac) in PORTS.items():
        if where == chassis:
            switch.add_vm_port("br-int", f"tap-{port}", port, mac, ofport)
            flows += port_flows(key, ofport, mac)
        else:
            flows.append(remote_flow(key, CHASSIS[where]))
    switch.add_flows("br-int", flows)
    return switch


def held_by_chassis_collector(snapshot: Snapshot, chassis: str) -> Snapshot:
    """The NB as a chassis collector reading etcd holds it (with the OVS probe on): whole
    what its slice draws, the rest as skeletons with the fields the probe reads."""
    topology = Topology(extensions=[], chassis=chassis, compact=True)
    topology.keep_fields({**NB_FIELDS, **KEPT_FIELDS})
    rank = {table: n for n, table in enumerate(SNAPSHOT_ORDER)}
    ordered = sorted(snapshot.values(), key=lambda obj: rank.get(obj.table, len(rank)))
    topology.begin_load()
    for start in range(0, len(ordered), 1000):
        page = ordered[start : start + 1000]
        glanced = [topology.skeleton(o.table, o.id, lambda o=o: o.data) or o for o in page]
        topology.load_batch(glanced)
        while topology.wanted:
            wanted = sorted(topology.wanted)
            topology.apply_all(Change(t, i, snapshot.get((t, i)), 0) for t, i in wanted)
    topology.end_load()
    return dict(topology.snapshot)
