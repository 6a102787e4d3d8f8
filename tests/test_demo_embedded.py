"""The demo composition in-process: it rides out an NB outage without losing a churn event."""

from __future__ import annotations

import asyncio
import time

from dragonscope.demo.embedded import ChangeLog, Demo, DemoSettings, trace_example
from dragonscope.demo.generate import generate
from dragonscope.nb import encode
from dragonscope.nb.backends import open_backend


async def stored_objects(url: str) -> dict[tuple[str, str], bytes]:
    backend = open_backend(url)
    try:
        entries, _ = await backend.snapshot()
    finally:
        await backend.close()
    return {(e.table, e.id): e.value for e in entries if e.table != "unique_key"}


async def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_churn_pauses_during_an_etcd_outage_and_catches_up(etcd_server) -> None:
    banners: list[str] = []
    settings = DemoSettings(nb=etcd_server.url, port=0, churn_interval=0.05)
    async with Demo(settings, announce=banners.append) as demo:
        assert demo.churn is not None
        assert "Open the UI:  http://127.0.0.1:" in banners[0]
        await asyncio.sleep(0.5)
        etcd_server.kill()
        await asyncio.sleep(1.5)
        events_during_outage = demo.churn.events
        await asyncio.sleep(1.0)
        assert demo.churn.events <= events_during_outage + 1  # paused on the failed write
        await asyncio.to_thread(etcd_server.start)

        async def caught_up() -> bool:
            async with demo._write_lock:
                expected = {
                    (t, o["id"]): encode(o)
                    for t, rows in demo.churn.state().items()
                    if t != "unique_key"
                    for o in rows
                }
                try:
                    return await stored_objects(etcd_server.url) == expected
                except Exception:
                    return False

        await wait_for(lambda: _moved(demo, events_during_outage), 20, "the churn to resume")
        await wait_for(caught_up, 20, "etcd to hold the churned state")


async def _moved(demo: Demo, events: int) -> bool:
    return demo.churn is not None and demo.churn.events > events + 3


def test_the_change_log_names_objects_as_an_operator_knows_them() -> None:
    dump = generate("small", seed=0)
    changelog = ChangeLog(dump)
    port = next(p for p in dump["lport"] if p.get("name") == "acme-web-1")
    fip = dump["floatingip"][0]
    line = changelog.line(
        "delete_vm",
        [("floatingip", fip["id"], {**fip, "version": 3}), ("lport", port["id"], None)],
    )
    assert line == (
        f"delete vm: floatingip {fip['floating_ip_address']} updated, lport acme-web-1 deleted"
    )
    assert trace_example(dump) == ("acme-web-1", "acme-db-1")


async def test_the_banner_example_ports_survive_any_churn() -> None:
    async with Demo(DemoSettings(port=0, churn_interval=0), announce=lambda _: None) as demo:
        assert demo.churn is not None and demo.dump is not None
        source, target = trace_example(demo.dump)
        before = {p["name"]: p for p in demo.dump["lport"] if p.get("name") in (source, target)}
        for _ in range(1500):
            await demo.churn_once()
        state = demo.churn.state()
        after = {p.get("name"): p for p in state["lport"]}
        live = {c["id"] for c in state["chassis"]}
        for name, port in before.items():
            # Still there, up, with its addresses; an evacuated chassis may have moved it.
            assert after[name]["id"] == port["id"] and after[name]["ips"] == port["ips"]
            assert after[name]["enabled"] and after[name]["binding"]["chassis"] in live


async def test_a_part_that_stops_ends_the_demo_with_the_reason() -> None:
    async def broken() -> None:
        raise RuntimeError("NB unreadable")

    async with Demo(DemoSettings(port=0, churn_interval=0), announce=lambda _: None) as demo:
        demo._spawn(broken(), "demo-collector")
        await asyncio.wait_for(demo.wait(asyncio.Event()), 5)
        assert demo.failure == "the collector stopped: NB unreadable"
