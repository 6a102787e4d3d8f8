"""The web UI in a real headless Chromium, against real dragonscope processes.

The analyzer, collector and NB run as a separate ``dragonscope demo`` process (on a real etcd,
which the tests change), and Playwright drives Debian's Chromium.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dragonscope.demo.generate import generate
from dragonscope.nb.schema import parse
from dragonscope.topology import translate
from servers import EtcdServer
from ui_support import CHROMIUM, CHROMIUM_ARGS, DRAGONSCOPE, dragonscope_process, wait_until

pytestmark = pytest.mark.browser

READY = "window.dragonscope?.ready && window.dragonscope.model.nodes.size > 0"
BY_DF_ID = """(id) => {
  const n = [...window.dragonscope.model.nodes.values()].find(
    (n) => n.Metadata.Dragonflow?.ID === id && n.Metadata.Type !== 'lrouter_port');
  return n ? {id: n.ID, drawn: window.dragonscope.canvas.cy.getElementById(n.ID).nonempty()} : null;
}"""
DRAWN_TYPES = """() => [...new Set(window.dragonscope.canvas.cy.nodes('[kind = "node"]')
  .map((n) => n.data('type')))].sort()"""


class UI:
    """A page of the dragonscope UI, with the few questions the tests ask of it."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url

    def open(self, hash_: str = "") -> UI:
        self.page.goto(f"{self.url}/{hash_}")
        self.page.wait_for_function(READY, timeout=30000)
        return self

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def drawn(self) -> int:
        return self.js("window.dragonscope.canvas.drawnNodeCount()")

    def node_for(self, df_id: str) -> dict | None:
        return self.js(BY_DF_ID, df_id)

    def has_class(self, node_id: str, cls: str) -> bool:
        return self.js(
            "([id, c]) => window.dragonscope.canvas.cy.getElementById(id).hasClass(c)",
            [node_id, cls],
        )

    def tap(self, node_id: str) -> None:
        """Click a node the way Cytoscape reports a click (it draws on a canvas, not in the DOM).

        The model takes an event at once but the canvas draws it on the next animation frame,
        so wait for the node to be drawn: a tap on an element not yet drawn reaches nothing.
        """
        wait_until(lambda: self.on_canvas(node_id))
        self.js("(id) => { window.dragonscope.canvas.cy.getElementById(id).emit('tap'); }", node_id)

    def in_model(self, node_id: str) -> bool:
        return self.js("(id) => window.dragonscope.model.nodes.has(id)", node_id)

    def on_canvas(self, node_id: str) -> bool:
        return self.js(
            "(id) => window.dragonscope.canvas.cy.getElementById(id).nonempty()", node_id
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert not [e for e in errors if "401" not in e], f"errors in the page: {errors}"


@pytest.fixture(scope="module")
def etcd_demo() -> Iterator[tuple[str, EtcdServer]]:
    """dragonscope demo on a real etcd, without churn, so that the test owns every change."""
    server = EtcdServer()
    server.start()
    try:
        with dragonscope_process("demo", "--nb", server.url, "--churn-interval", "0") as (url, _):
            wait_until(lambda: gremlin_count(url) >= len(sample_graph()[0]), timeout=60)
            yield url, server
    finally:
        server.cleanup()


@pytest.fixture
def ui(page: Page, etcd_demo: tuple[str, EtcdServer]) -> UI:
    return UI(page, etcd_demo[0])


@pytest.fixture
def nb(etcd_demo: tuple[str, EtcdServer]) -> EtcdServer:
    return etcd_demo[1]


def sample() -> dict[str, list[dict]]:
    return generate("small", seed=0)


@functools.cache
def sample_graph() -> tuple[dict, dict]:
    """What the demo's sample cloud translates to: the graph the analyzer must end up with."""
    snapshot = {}
    for table, rows in sample().items():
        for row in rows if table != "unique_key" else ():
            obj = parse(table, row["id"], row)
            snapshot[obj.key] = obj
    return translate(snapshot)


def gremlin_count(url: str) -> int:
    body = json.dumps({"GremlinQuery": "G.V().Count()"}).encode()
    request = urllib.request.Request(f"{url}/api/topology", body, {"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read()))


def vm_ports() -> list[dict]:
    return [p for p in sample()["lport"] if p.get("device_owner", "").startswith("compute:")]


def put(server: EtcdServer, table: str, obj: dict) -> None:
    server.put(f"/{table}/{obj['id']}", json.dumps(obj, sort_keys=True))


def test_page_loads_the_demo_topology(ui: UI) -> None:
    ui.open()
    total = ui.js("window.dragonscope.model.nodes.size")
    nodes, _ = sample_graph()
    assert total == len(nodes) + 1  # the collector's own status node
    assert ui.js("(ids) => ids.every((id) => window.dragonscope.model.nodes.has(id))", list(nodes))
    assert ui.drawn() > 20
    assert ui.page.locator("#legend li").count() > 20
    assert "live" in ui.page.inner_text("#conn-text")
    assert ui.page.inner_text("#counts").startswith(f"{total} nodes")


# Whether the page's scene equals one built from scratch from its model (same view, marks).
SCENE_AS_BUILT = """async () => {
  const { buildScene } = await import('/static/js/scene.js');
  const d = window.dragonscope;
  const view = { nodes: new Set(d.model.nodes.keys()), edgeOk: () => true };
  const marks = { staleOrigins: d.freshness.staleOrigins, problems: d.problems.byNode };
  const built = buildScene(d.model, d.state, view, marks);
  const byKey = (a, b) => (a[0] < b[0] ? -1 : 1);
  const canon = (s) => JSON.stringify([[...s.nodes.entries()].sort(byKey),
    [...s.edges.entries()].sort(byKey), s.drawn, s.visibleCount]);
  return canon(built) === canon(d.scene);
}"""


def test_a_port_created_in_the_nb_appears_live_and_goes_away(ui: UI, nb: EtcdServer) -> None:
    ui.open()
    renders = ui.js("window.dragonscope.renders")
    port = copy.deepcopy(vm_ports()[0])
    port.update(id="9d0c8a7e-0000-4000-8000-00000000a001", name="ui-live-port", unique_key=9001)
    port.update(macs=["fa:16:3e:99:99:99"], ips=["10.99.99.99"][: len(port["ips"])])
    put(nb, "lport", port)
    found = wait_until(lambda: ui.node_for(port["id"]))
    wait_until(lambda: ui.on_canvas(found["id"]), timeout=10)
    assert ui.js("window.dragonscope.renders") > renders  # the same page, re-rendered: no reload
    # The scene, extended in place by the live events, is the one a full build gives.
    assert ui.js(SCENE_AS_BUILT)
    # Drawn over the cached picture first, then part of it once the changes pause.
    wait_until(lambda: ui.js("window.dragonscope.canvas.onTop.size") == 0, timeout=10)
    assert ui.on_canvas(found["id"])
    nb.delete(f"/lport/{port['id']}")
    wait_until(lambda: not ui.in_model(found["id"]))
    wait_until(lambda: not ui.on_canvas(found["id"]), timeout=10)


# The labels Cytoscape draws at zoom z (the current one by default), as boxes in model
# coordinates, which do not depend on the zoom. The test never changes the zoom itself: a
# programmatic zoom jump now and then crashes this headless Chromium's renderer.
SHOWN_LABELS = """(z) => {
  const cy = window.dragonscope.canvas.cy; z = z || cy.zoom();
  return cy.nodes().filter((n) => n.data('label')
      && n.pstyle('font-size').pfValue * z >= n.pstyle('min-zoomed-font-size').pfValue)
    .map((n) => { const b = n.boundingBox({includeNodes: false, includeEdges: false,
                    includeOverlays: false, includeLabels: true});
                  return {id: n.id(), type: n.data('type'),
                          x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2}; });
}"""


def overlapping(labels: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["id"], b["id"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if a["x1"] < b["x2"] - 0.5
        and b["x1"] < a["x2"] - 0.5
        and a["y1"] < b["y2"] - 0.5
        and b["y1"] < a["y2"] - 0.5
    ]


def test_labels_never_overlap(ui: UI) -> None:
    ui.open()
    # At the default zoom and closer, no label covers another: a box's title stays in its
    # padding, a node's label within its grid cell; small things are named only up close.
    for zoom in (None, 0.6, 1.0, 2.0):
        labels = ui.js(SHOWN_LABELS, zoom)
        assert labels and not overlapping(labels), (zoom, overlapping(labels)[:5])
    # At 0.6 a router is named, a port not yet.
    at_06 = {label["type"] for label in ui.js(SHOWN_LABELS, 0.6)}
    assert "lrouter" in at_06 and "lport" not in at_06
    assert "lport" in {label["type"] for label in ui.js(SHOWN_LABELS, 1.0)}


# Zoom to each level in turn and count the edges drawn there, in one synchronous call: no
# render of the page can come between a zoom and its count. Returns nothing Cytoscape owns.
EDGES_DRAWN_AT = """(steps) => {
  const canvas = window.dragonscope.canvas, cy = canvas.cy;
  const middle = {x: cy.width() / 2, y: cy.height() / 2};
  const counts = [];
  for (const [zoom, select] of steps) {
    cy.zoom({level: zoom, renderedPosition: middle});
    cy.edges(':selected').unselect();
    if (select) cy.edges()[0].select();
    counts.push(canvas.drawnEdgeCount());
  }
  cy.edges(':selected').unselect();
  return counts;
}"""


def test_far_edges_are_not_drawn(ui: UI) -> None:
    ui.open()
    # Far out, edges thinner than a quarter pixel are not drawn; a selected one still is; back
    # in, every edge is drawn again. The level of detail follows the zoom shown, nothing else.
    default = ui.js("window.dragonscope.canvas.cy.zoom()")
    steps = [[default, False], [0.1, False], [0.1, True], [1.0, False], [default, False]]
    shown, far, far_selected, near, back = ui.js(EDGES_DRAWN_AT, steps)
    assert shown > 10 and near == back == shown
    assert far == 0
    assert far_selected == 1


def test_search_by_ip_focuses_the_right_port(ui: UI) -> None:
    ui.open()
    target = next(p for p in vm_ports() if p["ips"])
    ui.page.fill("#search", target["ips"][0])
    ui.page.press("#search", "Enter")
    wait_until(lambda: ui.page.inner_text("#details-name") == target.get("name", target["id"]))
    node = ui.node_for(target["id"])
    assert ui.js("window.dragonscope.state.sel") == node["id"]
    assert ui.has_class(node["id"], "match")
    assert "q=" in ui.page.url


def test_views_and_group_by_change_what_is_drawn(ui: UI) -> None:
    ui.open("#expand=all")
    global_count = ui.drawn()
    ui.page.click("[data-view=security]")
    ui.page.wait_for_function(f"window.dragonscope.canvas.drawnNodeCount() < {global_count}")
    assert set(ui.js(DRAWN_TYPES)) <= {"secgroup", "lport", "tenant"}
    ui.page.click("[data-view=l2]")
    ui.page.wait_for_timeout(300)
    assert "lrouter" not in ui.js(DRAWN_TYPES)
    assert "view=l2" in ui.page.url
    ui.page.click("[data-view=global]")
    ui.page.click("[data-group=physical]")
    ui.page.wait_for_timeout(300)
    boxes = ui.js("window.dragonscope.canvas.cy.nodes('.group').map((n) => n.id())")
    bound = {
        p["binding"]["chassis"] for p in sample()["lport"] if p.get("binding", {}).get("chassis")
    }
    chassis = {c["id"] for c in sample()["chassis"]} | bound
    assert {b.removeprefix("chassis:") for b in boxes if b.startswith("chassis:")} == chassis
    assert ui.drawn() == global_count
    ui.page.click("[data-view=chassis]")
    ui.page.wait_for_timeout(300)
    assert 0 < ui.drawn() < global_count


def test_groups_collapse_and_the_table_lists_all_over_the_limit(ui: UI) -> None:
    ui.open("#limit=50")
    assert ui.drawn() <= 50
    assert ui.page.is_visible("#banner")
    assert "50" in ui.page.inner_text("#banner")
    ui.page.click("[data-tab=table]")
    view_count = ui.js("window.dragonscope.scene.visibleCount")
    ui.page.wait_for_function(
        f"document.querySelectorAll('#table tbody tr').length === {view_count}"
    )
    collapsed = ui.js("window.dragonscope.canvas.cy.nodes('.collapsed').map((n) => n.id())")
    assert collapsed
    before = ui.drawn()
    ui.tap(collapsed[0])
    ui.page.wait_for_function(f"window.dragonscope.canvas.drawnNodeCount() > {before}")


def test_a_bad_gremlin_filter_shows_the_analyzer_error(ui: UI) -> None:
    ui.open()
    nodes = ui.js("window.dragonscope.model.nodes.size")
    ui.page.fill("#gremlin", "G.V().Has('Type', 'lport'")
    ui.page.click("#gremlin-form button[type=submit]")
    ui.page.wait_for_function("document.getElementById('gremlin-error').textContent.length > 0")
    assert "xpected" in ui.page.inner_text("#gremlin-error")
    assert ui.js("window.dragonscope.model.nodes.size") == nodes
    ui.page.fill("#gremlin", "G.V().Has('Type', 'lswitch')")
    ui.page.click("#gremlin-form button[type=submit]")
    ui.page.wait_for_function(
        "[...window.dragonscope.model.nodes.values()].every((n) => n.Metadata.Type === 'lswitch')"
    )
    assert ui.page.inner_text("#gremlin-error") == ""
    ui.page.click("#gremlin-clear")
    ui.page.wait_for_function(f"window.dragonscope.model.nodes.size === {nodes}")


def test_a_hostile_name_renders_as_text(ui: UI, nb: EtcdServer) -> None:
    dialogs: list[str] = []
    ui.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui.open()
    hostile = "<img src=x onerror=alert(1)>"
    network = copy.deepcopy(sample()["lswitch"][0])
    network.update(id="5f4b0c1e-0000-4000-8000-00000000b001", name=hostile, unique_key=9101)
    put(nb, "lswitch", network)
    node = wait_until(lambda: ui.node_for(network["id"]))
    ui.tap(node["id"])
    wait_until(lambda: ui.page.inner_text("#details-name") == hostile)
    assert ui.page.locator("img[src=x]").count() == 0
    ui.page.wait_for_timeout(300)
    assert dialogs == []
    nb.delete(f"/lswitch/{network['id']}")


def test_a_trace_draws_its_path_and_steps_through_hops(ui: UI) -> None:
    ports = [p for p in vm_ports() if p.get("name")]
    src = ports[0]
    dst = next(p for p in ports[1:] if p["lswitch"] == src["lswitch"])
    ui.open()
    ui.page.click("[data-tab=trace]")
    ui.page.fill("#trace-from", src["name"])
    ui.page.fill("#trace-to", dst["name"])
    ui.page.select_option("#trace-proto", "icmp")
    ui.page.click("#trace-form button[type=submit]")
    ui.page.wait_for_function("document.querySelectorAll('#trace-hops li').length > 0")
    verdict = ui.page.inner_text("#trace-verdict")
    assert verdict.split()[0] in {"delivered", "dropped", "replied", "external"}
    on_path = ui.js("window.dragonscope.canvas.cy.elements('.on-path').map((e) => e.id())")
    src_node = ui.node_for(src["id"])["id"]
    assert src_node in on_path
    if verdict.startswith("dropped"):
        assert ui.js("window.dragonscope.canvas.cy.elements('.drop-point').length") >= 1
    ui.page.click("#hop-next")
    assert ui.page.locator("#trace-hops li.current").count() == 1
    assert "trace=" in ui.page.url


def test_a_trace_drop_is_highlighted_with_its_reason(ui: UI) -> None:
    fip_ports = {f.get("lport") for f in sample()["floatingip"]}
    src = next(p for p in vm_ports() if p["id"] not in fip_ports and p.get("name"))
    ui.open()
    ui.page.click("[data-tab=trace]")
    ui.page.fill("#trace-from", src["name"])
    ui.page.fill("#trace-to", "203.0.113.7")
    ui.page.select_option("#trace-proto", "tcp")
    ui.page.fill("#trace-dport", "443")
    ui.page.click("#trace-form button[type=submit]")
    ui.page.wait_for_function("document.querySelectorAll('#trace-hops li').length > 0")
    api = ui.js(
        """async (p) => (await fetch('/api/trace', {method: 'POST', body: JSON.stringify(p),
             headers: {'Content-Type': 'application/json'}})).json()""",
        {"from": src["name"], "to": "203.0.113.7", "proto": "tcp", "dport": 443},
    )
    verdict = ui.page.inner_text("#trace-verdict")
    assert verdict.startswith(api["verdict"])
    if api["verdict"] == "dropped":
        assert api["drop"]["code"] in verdict
        assert ui.page.locator("#trace-hops li.drop").count() >= 1
        assert ui.js("window.dragonscope.canvas.cy.elements('.drop-point').length") >= 1


def test_history_shows_the_past_and_the_changes_between_two_times(ui: UI, nb: EtcdServer) -> None:
    ui.open()
    before = ui.js("Date.now()")
    ui.page.wait_for_timeout(1100)  # the time pickers have one-second resolution
    network = copy.deepcopy(sample()["lswitch"][0])
    network.update(id="5f4b0c1e-0000-4000-8000-00000000c001", name="history-net", unique_key=9201)
    put(nb, "lswitch", network)
    node = wait_until(lambda: ui.node_for(network["id"]))
    ui.page.wait_for_timeout(1100)
    after = ui.js("Date.now()")
    ui.open(f"#time=at&at={before}")
    ui.page.wait_for_function(
        "document.getElementById('conn-text').textContent.includes('history')"
    )
    ui.page.wait_for_timeout(500)
    assert not ui.in_model(node["id"])
    assert ui.js("window.dragonscope.model.nodes.size") > 50
    ui.open(f"#time=diff&from={before}&to={after}")
    ui.page.wait_for_function("document.querySelectorAll('#changes-list li').length > 0")
    assert "Added: lswitch history-net" in ui.page.inner_text("#changes-list")
    assert ui.has_class(node["id"], "diff-added")
    nb.delete(f"/lswitch/{network['id']}")


def test_a_link_reproduces_what_a_colleague_saw(ui: UI) -> None:
    target = next(p for p in vm_ports() if p["ips"])
    ui.open(f"#view=security&group=physical&q={target['ips'][0]}&limit=500")
    assert "active" in (ui.page.get_attribute("[data-view=security]", "class") or "")
    assert "active" in (ui.page.get_attribute("[data-group=physical]", "class") or "")
    assert ui.page.input_value("#search") == target["ips"][0]
    assert ui.page.input_value("#draw-limit") == "500"
    assert ui.has_class(ui.node_for(target["id"])["id"], "match")


def test_the_details_show_every_field_of_what_is_opened(ui: UI) -> None:
    ui.open()
    # The page draws from the analyzer's projection: a port's NB object is there only in part,
    # until the port is opened.
    port = ui.js(
        """() => [...window.dragonscope.model.nodes.values()]
          .find((n) => n.Metadata.Type === 'lport' && n.Metadata.Neutron).ID"""
    )
    nb_keys = "(id) => Object.keys(window.dragonscope.model.nodes.get(id).Metadata.Dragonflow)"
    assert "macs" not in ui.js(nb_keys, port)
    ui.tap(port)
    wait_until(lambda: "macs" in ui.js(nb_keys, port))
    wait_until(lambda: "NetworkName" in ui.page.inner_text("#details-meta"))
    assert "macs" in ui.page.inner_text("#details-meta")


def test_export_gives_the_drawn_view_as_json(ui: UI) -> None:
    ui.open("#view=l3&expand=all")
    ui.page.click("#export-btn")
    with ui.page.expect_download() as download:
        ui.page.click("[data-export=json]")
    graph = json.loads(Path(download.value.path()).read_text())
    assert len(graph["Nodes"]) == ui.drawn()
    # Each element whole, though the page drew from the analyzer's projection.
    assert all("Revision" in n for n in graph["Nodes"])
    assert any(len(n["Metadata"].get("Dragonflow", {})) > 6 for n in graph["Nodes"])
    assert {n["Metadata"]["Type"] for n in graph["Nodes"]} <= {
        "lrouter", "lrouter_port", "lswitch", "lsubnet", "floatingip", "lport", "tenant",
    }  # fmt: skip
    ui.page.click("#export-btn")
    with ui.page.expect_download() as download:
        ui.page.click("[data-export=svg]")
    assert Path(download.value.path()).read_text().startswith("<svg")


def test_the_demo_shows_the_sample_cloud_changing_live(page: Page) -> None:
    with dragonscope_process("demo", "--churn-interval", "0.3") as (url, _):
        ui = UI(page, url).open()
        assert ui.js("window.dragonscope.model.nodes.size") > 80
        renders = ui.js("window.dragonscope.renders")
        wait_until(lambda: ui.js("window.dragonscope.liveEvents") > 0, timeout=30)
        wait_until(lambda: ui.js("window.dragonscope.renders") > renders, timeout=10)
        page.goto("about:blank")  # leave before the demo stops, or the page reports it gone


def test_login_is_required_when_the_analyzer_has_users(page: Page, tmp_path: Path) -> None:
    users = tmp_path / "users"
    subprocess.run(
        [*DRAGONSCOPE, "analyzer", "adduser", str(users), "operator", "--role", "reader"],
        input=b"s3cret-pass\n",
        check=True,
    )
    args = ("analyzer", "--users", str(users), "--token-ttl", "3s")
    with dragonscope_process(*args, port_flag="--listen") as (url, _):
        page.goto(f"{url}/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#login-user", "operator")
        page.fill("#login-password", "wrong")
        page.click("#login-form button[type=submit]")
        page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
        assert page.is_visible("#login")
        page.fill("#login-password", "s3cret-pass")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#login", state="hidden")
        page.wait_for_function("document.getElementById('conn-text').textContent === 'live'")
        assert page.inner_text("#user") == "operator"
        # The token expires: the analyzer closes the live connection (1008, "token
        # expired") and the UI asks for the password again, without any click.
        page.wait_for_selector("#login:not([hidden])", timeout=15000)
        assert page.inner_text("#conn-text") != "live"
        page.goto("about:blank")
