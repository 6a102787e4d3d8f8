"""Take the documentation's screenshots of the web UI (``make screenshots``).

Runs the embedded demo on a free port with gentle churn, drives Chromium through the main
views, a trace, the problems list, a reachability heat map and a history diff, and writes
PNGs to docs/img/.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from ui_support import CHROMIUM, CHROMIUM_ARGS, dragonscope_process  # noqa: E402

OUT = ROOT / "docs" / "img"
READY = "window.dragonscope?.ready && window.dragonscope.model.nodes.size > 100"


def shot(page: Page, url: str, name: str, hash_: str = "", settle: int = 800) -> None:
    page.goto("about:blank")
    page.goto(f"{url}/{hash_}")
    page.wait_for_function(READY, timeout=60000)
    page.wait_for_timeout(settle)
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"wrote docs/img/{name}.png")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    demo = dragonscope_process("demo", "--churn-interval", "0.7")
    with demo as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        started = int(time.time() * 1000)
        shot(page, url, "logical")
        shot(page, url, "physical", "#group=physical")
        shot(page, url, "router", "#group=router")
        trace = '{"from":"acme-web-1","to":"acme-db-1","proto":"tcp","dport":5432}'
        page.goto("about:blank")
        page.goto(f"{url}/#trace={trace}")
        page.wait_for_function("document.querySelectorAll('#trace-hops li').length > 0")
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "trace.png"))
        print("wrote docs/img/trace.png")
        # Lint in the graph: badged objects, and every problem listed by kind.
        page.goto("about:blank")
        page.goto(f"{url}/#view=problems")
        page.wait_for_function(f"{READY} && document.querySelectorAll('#problems-list li').length")
        page.click("[data-tab=problems]")
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "problems.png"))
        print("wrote docs/img/problems.png")
        # Who reaches whom in the first tenant, as a heat map.
        page.goto("about:blank")
        page.goto(f"{url}/")
        page.wait_for_function(READY, timeout=60000)
        page.click("[data-tab=reach]")
        page.select_option("#reach-tenant", label="acme")
        page.select_option("#reach-proto", "tcp")
        page.fill("#reach-dport", "5432")
        page.click("#reach-form button[type=submit]")
        page.wait_for_function(
            "document.querySelectorAll('#reach-matrix td.ok, #reach-matrix td.drop').length"
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "reach.png"))
        print("wrote docs/img/reach.png")
        time.sleep(max(0.0, started / 1000 + 8 - time.time()))
        now = int(time.time() * 1000)
        page.goto("about:blank")
        page.goto(f"{url}/#time=diff&from={started}&to={now}")
        page.wait_for_function("document.querySelectorAll('#changes-list li').length > 0")
        page.click("[data-tab=changes]")
        page.wait_for_timeout(800)
        page.screenshot(path=str(OUT / "history-diff.png"))
        print("wrote docs/img/history-diff.png")
        page.goto("about:blank")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
