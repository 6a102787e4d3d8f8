"""The OVS side of the web UI, in a real headless Chromium: a ``dragonscope analyzer`` process,
one ``dragonscope collector --chassis`` process per chassis reading a real userspace Open
vSwitch, and etcd. The physical view nests each chassis's bridge, the VM interfaces in the
logical ports they carry, and draws the tunnel mesh; a port's details show its OVS side.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dragonscope.nb import tables
from dragonscope.topology import ids
from ovs_support import CHASSIS, OvsSwitch, switch_for, write_nb
from servers import EtcdServer
from ui_support import CHROMIUM, CHROMIUM_ARGS, DRAGONSCOPE, dragonscope_process, wait_until

pytestmark = pytest.mark.browser

MODEL_HAS = "(id) => window.dragonscope?.ready && window.dragonscope.model.nodes.has(id)"
PARENT = "(id) => window.dragonscope.canvas.cy.getElementById(id).data('box') || null"
DETAILS_OVS = "document.getElementById('details-ovs')"
FACTS = f"""() => Object.fromEntries([...{DETAILS_OVS}.querySelectorAll('.ovs-facts dt')]
  .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """etcd, an analyzer and a collector per chassis, each on its own Open vSwitch."""
    etcd = EtcdServer()
    etcd.start()
    switches: dict[str, OvsSwitch] = {}
    collectors: list[subprocess.Popen[bytes]] = []
    logs = tmp_path_factory.mktemp("collectors")
    try:
        write_nb(etcd)
        switches = {name: switch_for(name) for name in CHASSIS}
        with dragonscope_process("analyzer", port_flag="--listen") as (url, _):
            for name, switch in switches.items():
                with open(logs / f"{name}.log", "wb") as out:
                    collectors.append(
                        subprocess.Popen(
                            [
                                *DRAGONSCOPE, "collector", "--nb", etcd.url, "--chassis", name,
                                "--analyzer", url.removeprefix("http://"), "--ovsdb", switch.remote,
                            ],
                            stdout=out, stderr=subprocess.STDOUT,
                        )
                    )  # fmt: skip
            yield {"url": url, "switches": switches, "logs": logs}
    finally:
        for proc in collectors:  # stopped by their pids, as a service manager would
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
        for switch in switches.values():
            switch.cleanup()
        etcd.cleanup()


@pytest.fixture
def page(cloud: dict[str, Any]) -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 950})
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield pg
        browser.close()
    assert not errors, f"errors in the page: {errors}"


def on(chassis: str, kind: str, name: str) -> str:
    return ids.chassis_node_id(chassis, kind, name)


def port(name: str) -> str:
    return ids.node_id(tables.LPORT, name)


def select(page: Page, node_id: str) -> None:
    # Returns nothing: handing Playwright the Cytoscape collection would serialise the whole
    # graph library, gigabytes of it, until the renderer dies.
    # The canvas draws an event on the next animation frame; a tap before that reaches nothing.
    drawn = "(id) => window.dragonscope.canvas.cy.getElementById(id).nonempty()"
    page.wait_for_function(drawn, arg=node_id)
    tap = "(id) => { window.dragonscope.canvas.cy.getElementById(id).emit('tap'); }"
    page.evaluate(tap, node_id)


def test_physical_view_nests_bridges_interfaces_and_draws_the_mesh(
    page: Page, cloud: dict[str, Any]
) -> None:
    page.goto(f"{cloud['url']}/#group=physical&expand=all")
    tap = on("c1", "interface", "tap-p1")
    bridge = on("c1", "ovsbridge", "br-int")
    c1, c2 = ids.node_id(tables.CHASSIS, "c1"), ids.node_id(tables.CHASSIS, "c2")
    page.wait_for_function(MODEL_HAS, arg=tap, timeout=30000)
    # The interface and its OVS port sit with the logical port they carry, in the bridge,
    # in the chassis.
    wait_until(lambda: page.evaluate(PARENT, tap) == f"carries:{port('p1')}")
    assert page.evaluate(PARENT, port("p1")) == f"carries:{port('p1')}"
    assert page.evaluate(PARENT, on("c1", "ovsport", "tap-p1")) == f"carries:{port('p1')}"
    assert page.evaluate(PARENT, f"carries:{port('p1')}") == f"bridge:{bridge}"
    assert page.evaluate(PARENT, f"bridge:{bridge}") == "chassis:c1"
    assert page.evaluate(PARENT, on("c1", "interface", "vxlan-vtp")) == f"bridge:{bridge}"
    # The other chassis's collector publishes on its own schedule.
    c2_bridge = f"bridge:{on('c2', 'ovsbridge', 'br-int')}"
    wait_until(lambda: page.evaluate(PARENT, f"carries:{port('p3')}") == c2_bridge)
    # The tunnel mesh: an edge each way between the two chassis, drawn as a tunnel.
    mesh = """() => window.dragonscope.canvas.cy.edges('[relation = "tunnel"]')
      .map((e) => [e.source().id(), e.target().id()]).sort()"""
    wait_until(lambda: page.evaluate(mesh) == sorted([[c1, c2], [c2, c1]]))
    legend = page.inner_text("#legend")
    assert "OVS bridge" in legend and "tunnel" in legend


def test_port_details_show_its_ovs_side_and_problems(page: Page, cloud: dict[str, Any]) -> None:
    page.goto(f"{cloud['url']}/")
    page.wait_for_function(MODEL_HAS, arg=on("c1", "interface", "tap-p1"), timeout=30000)
    select(page, port("p1"))
    page.wait_for_function(f"!{DETAILS_OVS}.hidden && {DETAILS_OVS}.innerText.includes('115')")
    text = page.inner_text("#details-ovs")
    assert "Open vSwitch" in text
    facts = page.evaluate(FACTS)
    assert facts["interface"] == "tap-p1" and facts["OpenFlow port"] == "7"
    assert facts["type"] == "dummy" and facts["on chassis"] == "c1"
    flows = page.evaluate(
        f"[...{DETAILS_OVS}.querySelectorAll('.ovs-flows tr')].slice(1).map((r) => r.innerText)"
    )
    assert [row.split("\t") for row in flows] == [
        ["0", "ingress classification dispatch", "1"],
        ["55", "L2 lookup", "1"],
        ["115", "ingress dispatch", "1"],
    ]
    # The switch holds a few hand-written rules, not all Dragonflow's: their drift from the
    # rules the NB asks for is the one problem.
    listed = text.split("problems", 1)[1].strip().splitlines() if "problems" in text else []
    assert all(line.startswith("flow drift:") for line in listed), listed
    # Unplug p2's interface: its details say so.
    cloud["switches"]["c1"].vsctl("--no-wait", "del-port", "tap-p2")
    select(page, port("p2"))
    page.wait_for_function(f"{DETAILS_OVS}.innerText.includes('no OVS interface has its iface-id')")
    assert page.evaluate(FACTS)["interface"] == "none plugged"
    # The bridge lists the tunnels it has flows for.
    select(page, on("c1", "ovsbridge", "br-int"))
    page.wait_for_function(f"{DETAILS_OVS}.querySelector('.ovs-tunnels') !== null")
    rows = page.evaluate(
        f"[...{DETAILS_OVS}.querySelectorAll('.ovs-tunnels tr')].slice(1).map((r) => r.innerText)"
    )
    assert [row.split("\t") for row in rows] == [["c2", CHASSIS["c2"], "2"]]


def test_collectors_logged_no_error(cloud: dict[str, Any]) -> None:
    for log in Path(cloud["logs"]).glob("*.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-2000:]
