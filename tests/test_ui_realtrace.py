"""A real trace from the web UI, in a real headless Chromium: a ``dragonscope analyzer`` process
with users, the global collector and one ``dragonscope collector --chassis`` process per chassis,
each on its own real Open vSwitch holding the rules ``dragonscope flows`` writes. The trace
drawer shows both chassis' steps beside the simulation; a reader is refused (403). A rule
deleted from a switch puts a drift badge on its port and its chassis, the rule in the details.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dragonscope.nb import tables
from dragonscope.topology import node_id
from realtrace_support import Chassis, start_cloud, stop_cloud, users_and_nb
from ui_support import CHROMIUM, CHROMIUM_ARGS, DRAGONSCOPE, dragonscope_process, wait_until

pytestmark = pytest.mark.browser

CHASSIS = ["compute-1", "compute-2"]
ROWS = "[...document.querySelectorAll('#trace-real-box .real-side tr')].slice(1)"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("ui-realtrace")
    users, nb = users_and_nb(base)
    password = base / "password"
    password.write_text("pubpw\n")
    switches: dict[str, Chassis] = {}
    collectors: list[subprocess.Popen[bytes]] = []
    try:
        switches = start_cloud(CHASSIS)
        args = ("analyzer", "--users", str(users))
        with dragonscope_process(*args, port_flag="--listen") as (url, _):
            for name, chassis in [(None, None), *switches.items()]:
                extra = []
                if chassis is not None:
                    mappings = ",".join(f"{p}:{b}" for p, b in chassis.mappings)
                    extra = ["--chassis", str(name), "--ovsdb", chassis.switch.remote,
                             "--bridge-mappings", mappings]  # fmt: skip
                with open(base / f"{name or 'global'}.log", "wb") as out:
                    collectors.append(
                        subprocess.Popen(
                            [
                                *DRAGONSCOPE, "collector", "--nb", f"file://{nb}",
                                "--analyzer", url.removeprefix("http://"), "--user", "pub",
                                "--password-file", str(password), *extra,
                            ],
                            stdout=out, stderr=subprocess.STDOUT,
                        )
                    )  # fmt: skip
            yield {"url": url, "logs": base, "switches": switches}
    finally:
        for proc in collectors:  # stopped by their pids, as a service manager would
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
        stop_cloud(switches)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 950})
        yield pg
        browser.close()


def log_in(page: Page, url: str, user: str, password: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    # Passwords are checked at a low CPU priority: slow while the collectors' syncs run.
    page.wait_for_selector("#login", state="hidden", timeout=90000)


def real_trace(page: Page, source: str, destination: str, dport: str) -> None:
    page.click("[data-tab=trace]")
    page.fill("#trace-from", source)
    page.fill("#trace-to", destination)
    page.select_option("#trace-proto", "tcp")
    page.fill("#trace-dport", dport)
    page.check("#trace-real")
    page.click("#trace-form button[type=submit]")


def test_a_real_trace_shows_both_chassis_beside_the_simulation(
    page: Page, cloud: dict[str, Any]
) -> None:
    log_in(page, cloud["url"], "root", "rootpw")
    # The collectors answer once they have said which chassis they serve: retry until then.
    for _ in range(30):
        real_trace(page, "web-1", "web-2", "80")
        page.wait_for_function(
            "!document.getElementById('trace-real-box').hidden || "
            "document.getElementById('trace-verdict').className.includes('error')",
            timeout=30000,
        )
        box = page.inner_text("#trace-real-box") if page.is_visible("#trace-real-box") else ""
        if "compute-2: " in box:
            break
        page.wait_for_timeout(1000)
    assert "traced by the switches of compute-1:" in box and "compute-2:" in box, box
    assert "agreement: agree" in box
    rows = page.evaluate(f"{ROWS}.map((r) => [...r.children].map((c) => c.textContent))")
    chassis = {row[0] for row in rows}
    assert {"compute-1", "compute-2"} <= chassis
    dispatch = [r for r in rows if r[0] == "compute-2" and r[1].startswith("115")]
    assert dispatch and "[classifier]" in dispatch[-1][3] and "output to web-2" in dispatch[-1][3]
    assert page.inner_text("#trace-verdict").startswith("delivered")
    assert page.locator("#trace-hops li").count() > 0  # the simulated hops, as before
    assert page.evaluate(f"{ROWS}.filter((r) => r.classList.contains('differs')).length") == 0
    assert "real=" not in page.url and "trace=" in page.url  # a link never re-runs it


def test_a_reader_is_refused(page: Page, cloud: dict[str, Any]) -> None:
    log_in(page, cloud["url"], "ro", "ropw")
    real_trace(page, "web-1", "web-2", "80")
    page.wait_for_function("document.getElementById('trace-verdict').className.includes('error')")
    assert "only admins" in page.inner_text("#trace-verdict")
    assert page.is_hidden("#trace-real-box")
    status = page.evaluate(
        """async () => (await fetch('/api/trace/real', {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({from: 'web-1', to: 'web-2', dport: 80})})).status"""
    )
    assert status == 403


HAS = "([id, c]) => window.dragonscope?.canvas.cy.getElementById(id).hasClass(c)"


def test_a_deleted_rule_puts_a_drift_badge_on_its_port_and_chassis(
    page: Page, cloud: dict[str, Any]
) -> None:
    target: Chassis = cloud["switches"]["compute-2"]
    rule = next(f for f in target.flows.flows if f.table == 115 and f.lport == "web-2")
    port, chassis = node_id(tables.LPORT, "web-2"), node_id(tables.CHASSIS, "compute-2")
    log_in(page, cloud["url"], "ro", "ropw")  # anyone who may read sees the drift
    page.wait_for_function(
        "(id) => window.dragonscope?.ready && window.dragonscope.model.nodes.get(id)"
        "?.Metadata.Drift !== undefined",
        arg=chassis,
        timeout=30000,
    )
    assert not page.evaluate(HAS, [port, "problem"])
    match = ",".join(f"{k}={v}" for k, v in rule.match)
    target.switch.ofctl("del-flows", "br-int", "--strict", f"table=115,priority=100,{match}")
    try:
        wait_until(lambda: page.evaluate(HAS, [port, "problem"]), timeout=30)
        wait_until(lambda: page.evaluate(HAS, [chassis, "problem"]), timeout=30)
        page.evaluate("(id) => window.dragonscope.canvas.cy.getElementById(id).emit('tap')", port)
        page.wait_for_function(
            "document.getElementById('details-ovs').innerText.includes('flow drift')"
        )
        drift = page.inner_text("#details-ovs")
        assert "1 missing, 0 unexpected, 0 differ" in drift
        assert rule.text() in drift and "classifier" in drift
    finally:
        target.switch.add_flows("br-int", [rule.text()])
    wait_until(lambda: not page.evaluate(HAS, [port, "problem"]), timeout=30)
