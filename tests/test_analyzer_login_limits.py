"""Logins under attack: the event loop never stalls on password hashing, wrong passwords
are rate limited per user and per address (429, metrics), and the time to answer does
not tell which users exist."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import sys
import time

import aiohttp
import pytest

from analyzer_support import settings
from dragonscope.analyzer import Analyzer
from dragonscope.analyzer.throttle import LoginLimits, LoginThrottle, Throttled
from dragonscope.analyzer.users import add_user

pytestmark = pytest.mark.timeout(120)

NO_LIMITS = LoginLimits(free_failures=10_000, in_flight_per_address=1_000)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "users"
    add_user(path, "root", "admin", "rootpw")
    add_user(path, "ro", "reader", "ropw")
    return path


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def login(http, url, user, password):
    async with http.post(url + "/login", data={"username": user, "password": password}) as r:
        return r.status, await r.text(), r.headers.get("Retry-After"), r.headers.get("X-Throttled")


# The attacker: another process that sends 40 wrong logins at once and prints the statuses.
BURST = """
import asyncio, json, sys
import aiohttp

async def main(url):
    async with aiohttp.ClientSession() as http:
        async def one(i):
            form = {"username": "root", "password": f"wrong-{i}"}
            async with http.post(url + "/login", data=form) as reply:
                return reply.status
        print(json.dumps(await asyncio.gather(*(one(i) for i in range(40)))))

asyncio.run(main(sys.argv[1]))
"""


async def test_forty_concurrent_wrong_logins_leave_healthz_answering(users_file):
    async with (
        Analyzer(settings(users_file=users_file, login_limits=NO_LIMITS)) as analyzer,
        aiohttp.ClientSession() as probe,
    ):
        await login(probe, analyzer.url, "root", "warm-up")  # the pool's threads exist
        burst = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BURST, analyzer.url, stdout=asyncio.subprocess.PIPE
        )
        output = asyncio.ensure_future(burst.communicate())
        latencies = []
        while not output.done():
            start = time.perf_counter()
            async with probe.get(analyzer.url + "/healthz") as reply:
                assert reply.status == 200
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.02)
        statuses = json.loads((await output)[0])
    assert set(statuses) <= {401, 429} and statuses.count(401) >= 10
    assert len(latencies) >= 10, "the burst ended before /healthz was probed"
    assert max(latencies) < 0.1, f"/healthz took {max(latencies) * 1000:.0f} ms during the burst"


async def test_known_and_unknown_users_take_the_same_time(users_file):
    async with (
        Analyzer(settings(users_file=users_file, login_limits=NO_LIMITS)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        await login(http, analyzer.url, "nobody", "warm-up")

        async def timed(name: str) -> float:
            start = time.perf_counter()
            status, *_ = await login(http, analyzer.url, name, "wrong")
            assert status == 401
            return time.perf_counter() - start

        # Pairs taken back to back (in alternating order), so that the load of a busy
        # machine weighs on both sides of each pair alike.
        known, unknown, ratios = [], [], []
        for i in range(30):
            if i % 2:
                b, a = await timed(f"ghost{i}"), await timed("root")
            else:
                a, b = await timed("root"), await timed(f"ghost{i}")
            known.append(a)
            unknown.append(b)
            ratios.append(a / b)
    ratio = statistics.median(ratios)
    shown = f"known {statistics.median(known):.3f} s, unknown {statistics.median(unknown):.3f} s"
    assert 0.9 < ratio < 1.1, f"{shown}: ratio {ratio:.3f}"


async def test_wrong_passwords_lock_the_user_out_with_back_off(users_file):
    limits = LoginLimits(free_failures=3, backoff=1.0, max_backoff=4.0)
    async with Analyzer(settings(users_file=users_file, login_limits=limits)) as analyzer:
        url = analyzer.url
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                assert (await login(http, url, "root", "guess"))[0] == 401
            assert (await login(http, url, "root", "guess"))[0] == 401  # 4th: locks 1 s
            status, text, retry, scope = await login(http, url, "root", "rootpw")
            assert status == 429 and retry == "1" and "too many failed logins" in text
            assert scope == "user"
            # The lock is the name's, whatever address the guesses come from.
            other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
            async with aiohttp.ClientSession(connector=other) as elsewhere:
                assert (await login(elsewhere, url, "root", "rootpw"))[0] == 429
                assert (await login(elsewhere, url, "ro", "ropw"))[0] == 200
            await asyncio.sleep(1.1)
            assert (await login(http, url, "root", "guess"))[0] == 401  # 5th: locks 2 s
            status, _, retry, _ = await login(http, url, "root", "rootpw")
            assert status == 429 and retry == "2"
            await asyncio.sleep(2.1)
            assert (await login(http, url, "root", "rootpw"))[0] == 200
            async with http.get(url + "/metrics", headers=basic("ro", "ropw")) as reply:
                metrics = await reply.text()
    assert 'dragonscope_login_throttled_total{scope="user"} 3.0' in metrics
    assert "dragonscope_login_failures_total 5.0" in metrics


async def test_one_address_guessing_many_names_is_locked_out(users_file):
    limits = LoginLimits(free_failures=3, backoff=5.0)
    async with Analyzer(settings(users_file=users_file, login_limits=limits)) as analyzer:
        url = analyzer.url
        async with aiohttp.ClientSession() as http:
            for name in ("amy", "bob", "cid", "dan"):
                assert (await login(http, url, name, "guess"))[0] == 401
            status, text, retry, scope = await login(http, url, "ro", "ropw")
            assert status == 429 and "address" in text and retry == "5" and scope == "address"
            async with http.get(url + "/api/status", headers=basic("ro", "ropw")) as reply:
                assert reply.status == 429
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=other) as elsewhere:
            assert (await login(elsewhere, url, "ro", "ropw"))[0] == 200


async def test_logins_beyond_an_address_s_running_checks_are_told_to_come_back(users_file):
    """Right passwords sent at once from one address: those beyond its running checks are
    answered 429 "busy" (so a client may send them again), and sent again they succeed."""
    limits = LoginLimits(in_flight_per_address=1)
    async with (
        Analyzer(settings(users_file=users_file, login_limits=limits)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        answers = await asyncio.gather(*(login(http, analyzer.url, "ro", "ropw") for _ in range(4)))
        busy = [a for a in answers if a[0] == 429]
        assert busy and all(a[3] == "busy" and a[2] == "1" for a in busy), answers
        assert "too many logins in progress" in busy[0][1]
        assert {a[0] for a in answers} == {200, 429}
        for _ in busy:
            assert (await login(http, analyzer.url, "ro", "ropw"))[0] == 200


def test_back_off_doubles_up_to_its_cap_and_is_forgotten():
    now = [0.0]
    throttle = LoginThrottle(LoginLimits(free_failures=2, backoff=1.0, max_backoff=8.0),
                             lambda: now[0])  # fmt: skip
    waits = []
    for _ in range(7):
        throttle.failed("root", "10.0.0.1")
        try:
            throttle.admit("root", "10.0.0.9")
            waits.append(0)
        except Throttled as exc:
            waits.append(exc.retry_after)
    assert waits == [0, 0, 1, 2, 4, 8, 8]
    assert throttle.locked() == 2
    now[0] += 100  # long after the last failure: a new streak starts from scratch
    throttle.failed("root", "10.0.0.1")
    throttle.admit("root", "10.0.0.9")
    throttle.succeeded("root")
    assert throttle.locked() == 0
