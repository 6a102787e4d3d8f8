"""The operator's first hour, in a real headless Chromium against a real demo on etcd: names
instead of ids, staleness, lint, reachability, history and trace stepping in the UI."""

# The browser fixtures are test_ui's, imported by name (pytest finds them in this module).
# ruff: noqa: F811

from __future__ import annotations

import copy
import re

import pytest

from servers import EtcdServer
from test_ui import UI, browser, etcd_demo, nb, page, put, sample, ui, vm_ports  # noqa: F401
from ui_support import wait_until

pytestmark = pytest.mark.browser

UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
LABELS = """() => window.dragonscope.canvas.cy.nodes('[kind = "node"]').map((n) => {
  const m = window.dragonscope.model.nodes.get(n.id()).Metadata;
  const df = m.Dragonflow?.ID || m.Missing?.ID || m.Tenant || '';
  return {label: n.data('label'), type: m.Type, df};
})"""
CURRENT_HOP = """[...document.querySelectorAll('#trace-hops li')]
  .findIndex((li) => li.classList.contains('current'))"""
HOP_HEIGHTS = """[...document.querySelectorAll('#trace-hops li')]
  .map((li) => li.getBoundingClientRect().height)"""
LOCAL_TIME = """(ms) => new Date(ms - new Date().getTimezoneOffset() * 60000)
  .toISOString().slice(0, 19)"""
IN_HISTORY = """window.dragonscope.model.nodes.size > 0
  && document.getElementById('conn-text').textContent.includes('history')"""


def test_labels_are_names_not_ids(ui: UI) -> None:
    ui.open("#limit=5000")
    labels = ui.js(LABELS)
    assert len(labels) > 100
    # Every object the NB names, addresses or owns is labelled by that: no raw id is left
    # (a chassis's id is its host name).
    raw = [
        n
        for n in labels
        if n["df"] and n["label"].lstrip("⚠0123456789 ") == n["df"] and n["type"] != "chassis"
    ]
    assert raw == []
    assert not [n for n in labels if UUID.match(n["label"]) and n["type"] != "chassis"]
    by_type = {}
    for n in labels:
        by_type.setdefault(n["type"], []).append(re.sub(r"^⚠\d+ ", "", n["label"]))
    assert "acme" in by_type["tenant"]  # the project names the demo's analyzer knows
    assert any(" → " in label and "(" in label for label in by_type["lrouter_port"])
    assert any("gateway (" in label for label in by_type["lport"])
    fips = {f["floating_ip_address"] for f in sample()["floatingip"]}
    assert {label for label in by_type["floatingip"]} <= fips
    assert all(label.startswith("missing ") for label in by_type["missing"])


def test_a_duplicate_ip_gets_a_badge_and_is_listed(ui: UI, nb: EtcdServer) -> None:
    original = next(p for p in vm_ports() if p.get("name") and p["ips"])
    twin = copy.deepcopy(original)
    twin.update(id="5f4b0c1e-0000-4000-8000-00000000d001", name="twin-port", unique_key=9301)
    twin["macs"] = ["fa:16:3e:00:d0:01"]
    ui.open("#limit=5000")
    put(nb, "lport", twin)
    try:
        # nb check reports the address on both ports, each naming the other.
        pair = [wait_until(lambda p=p: ui.node_for(p["id"]))["id"] for p in (twin, original)]
        wait_until(lambda: all(ui.has_class(i, "problem") for i in pair), timeout=30)
        for badged in pair:
            assert ui.js(
                "(id) => window.dragonscope.canvas.cy.getElementById(id).data('label')", badged
            ).startswith("⚠")
        node = {"id": pair[0]}
        ui.page.click("[data-tab=problems]")
        listing = ui.page.inner_text("#problems-list")
        assert "duplicate-address" in listing and original["ips"][0] in listing
        # The Broken view shows every object with a problem, this one included.
        ui.page.click("[data-view=problems]")
        wait_until(lambda: ui.on_canvas(node["id"]))
        ui.tap(node["id"])
        wait_until(lambda: "duplicate-address" in ui.page.inner_text("#details-problems"))
    finally:
        nb.delete(f"/lport/{twin['id']}")


def test_the_reach_matrix_is_a_heat_map_whose_cells_open_the_trace(ui: UI) -> None:
    ui.open()
    ui.page.click("[data-tab=reach]")
    ui.page.select_option("#reach-tenant", label="acme")
    ui.page.click("#reach-form button[type=submit]")
    ui.page.wait_for_function(
        "document.querySelectorAll('#reach-matrix td.ok, #reach-matrix td.drop').length > 0"
    )
    note = ui.page.inner_text("#reach-note")
    assert "tenant acme" in note and "tcp/22" in note
    cell = ui.page.locator("#reach-matrix td.drop, #reach-matrix td.ok").first
    title = cell.get_attribute("title") or ""
    assert " → " in title and ":" in title  # source → destination: the reason
    cell.click()
    ui.page.wait_for_function("document.querySelectorAll('#trace-hops li').length > 0")
    assert not ui.page.locator("[data-body=trace]").is_hidden()
    verdict = ui.page.inner_text("#trace-verdict").split()[0]
    assert verdict in title.split(": ", 1)[1]


def test_trace_stepping_keeps_its_zoom_and_visits_every_hop(ui: UI) -> None:
    ports = [p for p in vm_ports() if p.get("name")]
    src = ports[0]
    dst = next(
        p for p in ports[1:] if p["lswitch"] != src["lswitch"] and p["topic"] == src["topic"]
    )
    ui.open()
    ui.page.click("[data-tab=trace]")
    ui.page.fill("#trace-from", src["name"])
    ui.page.fill("#trace-to", dst["name"])
    ui.page.select_option("#trace-proto", "icmp")
    ui.page.click("#trace-form button[type=submit]")
    ui.page.wait_for_function("document.querySelectorAll('#trace-hops li').length > 3")
    ui.page.wait_for_timeout(400)  # the fit animation
    zoom = ui.js("window.dragonscope.canvas.cy.zoom()")
    assert zoom <= 1.5  # fitting a short path never blows the icons up
    hops = ui.page.locator("#trace-hops li").count()
    heights = ui.js(HOP_HEIGHTS)
    assert max(heights) < 24  # one line per hop
    for index in range(hops):
        ui.page.click("#hop-next")
        assert ui.js(CURRENT_HOP) == index
    ui.page.wait_for_timeout(400)
    assert abs(ui.js("window.dragonscope.canvas.cy.zoom()") - zoom) < 1e-6
    # The selected hop opens its detail under its line.
    assert ui.js(
        "document.querySelector('#trace-hops li.current').getBoundingClientRect().height"
    ) >= max(heights)
    # The drawer is resizable.
    box = ui.page.locator("#drawer-grip").bounding_box()
    before = ui.page.locator("#drawer").bounding_box()["height"]
    ui.page.mouse.move(box["x"] + 50, box["y"] + 2)
    ui.page.mouse.down()
    ui.page.mouse.move(box["x"] + 50, box["y"] - 120)
    ui.page.mouse.up()
    assert ui.page.locator("#drawer").bounding_box()["height"] > before + 100


def test_history_time_is_in_the_url_and_diffs_show_fields(ui: UI, nb: EtcdServer) -> None:
    port = copy.deepcopy(next(p for p in vm_ports() if p.get("name")))
    ui.open()
    before = ui.js("Date.now()")
    ui.page.wait_for_timeout(1100)
    renamed = {**port, "name": f"{port['name']}-renamed"}
    put(nb, "lport", renamed)
    try:
        node = wait_until(lambda: ui.node_for(port["id"]))
        wait_until(
            lambda: (
                ui.js("(id) => window.dragonscope.model.nodes.get(id).Metadata.Name", node["id"])
                == renamed["name"]
            )
        )
        ui.page.wait_for_timeout(1100)
        after = ui.js("Date.now()")
        # "at" from the menu: the URL gets the time, and a reload shows that same time.
        ui.page.select_option("#time-mode", "at")
        ui.page.fill(
            "#time-at",
            ui.js(
                LOCAL_TIME,
                before,
            ),
        )
        ui.page.click("#time-apply")
        ui.page.wait_for_function("location.hash.includes('at=')")
        at = int(re.search(r"at=(\d+)", ui.page.url).group(1))
        assert abs(at - before) < 1000
        ui.page.reload()
        ui.page.wait_for_function(IN_HISTORY)
        wait_until(
            lambda: (
                ui.js("(id) => window.dragonscope.model.nodes.get(id)?.Metadata.Name", node["id"])
                == port["name"]
            )
        )
        # Changes between two times: the element's fields, before and after.
        ui.open(f"#time=diff&from={before}&to={after}")
        ui.page.wait_for_function(
            "document.querySelectorAll('#changes-list .field-diff').length > 0"
        )
        text = ui.page.inner_text("#changes-list")
        assert f"Name: {port['name']} → {renamed['name']}" in text
        assert ui.has_class(node["id"], "diff-changed")
        # Switching to "at" clears the diff's highlights.
        ui.page.select_option("#time-mode", "at")
        assert not ui.has_class(node["id"], "diff-changed")
        assert ui.page.locator("#changes-list li").count() == 0
    finally:
        put(nb, "lport", port)


def test_small_fixes(ui: UI) -> None:
    target = next(p for p in vm_ports() if p.get("name"))
    # A search in a shared link is focused, not only counted.
    ui.open(f"#q={target['name']}")
    node = ui.node_for(target["id"])
    wait_until(lambda: ui.js("window.dragonscope.state.sel") == node["id"])
    # A refused filter leaves the box showing what the canvas shows.
    ui.page.fill("#gremlin", "G.V().Has('Type', 'lswitch')")
    ui.page.click("#gremlin-form button[type=submit]")
    ui.page.wait_for_function(
        "[...window.dragonscope.model.nodes.values()].every((n) => n.Metadata.Type === 'lswitch')"
    )
    ui.page.fill("#gremlin", "G.V().Has('Type'")
    ui.page.click("#gremlin-form button[type=submit]")
    ui.page.wait_for_function("document.getElementById('gremlin-error').textContent.length > 0")
    assert ui.page.input_value("#gremlin") == "G.V().Has('Type', 'lswitch')"
    assert "Still showing the filter" in ui.page.inner_text("#gremlin-error")
    # A filter does not empty the chassis picker.
    assert ui.page.locator("[data-view-arg=chassis] option").count() >= 3
    ui.page.click("#gremlin-clear")
    # The top bar stays on one line at 1366 px.
    ui.page.set_viewport_size({"width": 1366, "height": 768})
    ui.page.wait_for_timeout(200)
    assert ui.page.locator("#topbar").bounding_box()["height"] < 48


def test_the_stale_banner_follows_the_nb(ui: UI, nb: EtcdServer) -> None:
    ui.open()
    assert ui.page.locator("#stale-banner").is_hidden()
    assert ui.page.inner_text("#conn-text") == "live"
    nb.kill()
    try:
        ui.page.wait_for_function("!document.getElementById('stale-banner').hidden", timeout=60000)
        assert ui.page.inner_text("#conn-text").startswith("NB unreachable since ")
        assert "cannot read the NB" in ui.page.inner_text("#stale-banner")
        assert ui.js("window.dragonscope.canvas.cy.nodes('.stale').length") > 10
    finally:
        nb.start()
    ui.page.wait_for_function("document.getElementById('stale-banner').hidden", timeout=60000)
    assert ui.page.inner_text("#conn-text") == "live"
    assert ui.js("window.dragonscope.canvas.cy.nodes('.stale').length") == 0
