"""``dragonscope nb dump|watch|check`` as an operator runs them: real processes, real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aetcd
import pytest
import redis

from nb_samples import COUNTERS, MORE_EXAMPLES, WORKED_EXAMPLE, stored_objects
from servers import EtcdServer, RedisServer, free_port

SECRET = "REDACTED-SECRET"  # the sample BGP peer's password


def nb(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRAGONSCOPE_NB"}
    return subprocess.run(
        [sys.executable, "-m", "dragonscope", "nb", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def start_nb(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dragonscope", "nb", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_line(stream, needle: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        seen.append(line)
        if needle in line:
            return line
        if not line:
            time.sleep(0.05)
    raise AssertionError(f"no line with {needle!r}: {seen}")


async def seed_etcd(server: EtcdServer, pairs) -> None:
    async with aetcd.Client(port=server.port) as client:
        for key, value in pairs:
            await client.put(key.encode(), value.encode())
        for table, count in COUNTERS.items():
            await client.put(f"/unique_key/{table}".encode(), str(count).encode())


def as_dump(objects) -> dict[str, list[dict]]:
    dump: dict[str, list[dict]] = {}
    for table, id_, value in sorted(objects, key=lambda o: (o[0], o[1])):
        dump.setdefault(table, []).append(json.loads(value) | {"id": id_})
    return dump


async def test_dump_reads_etcd_and_round_trips_through_a_file(
    etcd_server: EtcdServer, tmp_path: Path
) -> None:
    all_keys = [(f"/{t}/{i}", v) for t, i, v in stored_objects()]
    await seed_etcd(etcd_server, all_keys)
    result = nb("dump", "--nb", etcd_server.url)
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout)
    expected = as_dump(stored_objects())
    for peer in expected["bgp_peer"]:
        peer.pop("password", None)
    assert dumped == expected
    assert SECRET not in result.stdout
    assert f"{len(stored_objects())} objects from {etcd_server.url}" in result.stderr

    path = tmp_path / "nb.json"
    path.write_text(result.stdout)
    again = nb("dump", "--nb", f"file://{path}", "--compact")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == dumped
    assert len(again.stdout.splitlines()) == 1


async def test_check_is_clean_on_a_consistent_cloud_and_exits_1_on_problems(
    etcd_server: EtcdServer,
) -> None:
    await seed_etcd(etcd_server, WORKED_EXAMPLE)
    clean = nb("check", "--nb", etcd_server.url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == ""
    assert "no problems in" in clean.stderr

    await seed_etcd(
        etcd_server,
        [
            ("/lport/broken", "{not json"),
            ("/chassis/compute-9", '{"id": "compute-9", "ip": "300.1.1.1"}'),
            ("/floatingip/f1", '{"id": "f1", "topic": "t", "lport": "gone"}'),
        ],
    )  # fmt: skip
    dirty = nb("check", "--nb", etcd_server.url)
    assert dirty.returncode == 1
    lines = dirty.stdout.splitlines()
    assert any(line.startswith("lport/broken: ") and "[invalid-json]" in line for line in lines)
    assert any(line.startswith("chassis/compute-9.ip: ") for line in lines)
    assert any("floatingip/f1.lport" in line and "[dangling-reference]" in line for line in lines)
    assert dirty.stderr.startswith(f"{len(lines)} problems (")
    assert "1 invalid-json" in dirty.stderr and "1 dangling-reference" in dirty.stderr

    as_json = nb("check", "--nb", etcd_server.url, "--json", "--table", "chassis")
    assert as_json.returncode == 1
    problems = json.loads(as_json.stdout)
    assert {p["table"] for p in problems} == {"chassis"}
    assert problems[0]["field"] == "ip"


async def test_watch_prints_one_line_per_change_from_redis(redis_server: RedisServer) -> None:
    client = redis.Redis(port=redis_server.port)
    client.set("{chassis.}compute-1", '{"id": "compute-1", "ip": "192.168.100.11"}')
    proc = start_nb("watch", "--nb", f"{redis_server.url}?reconcile=0.2", "--count", "3")
    try:
        wait_for_line(proc.stderr, "watching redis://")
        client.set("{lport.t1}p1", '{"id": "p1", "name": "web-1"}')
        time.sleep(0.5)
        client.set("{chassis.}compute-2", '{"id": "compute-2", "ip": "nope"}')
        time.sleep(0.5)
        client.delete("{chassis.}compute-1")
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        client.close()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert "put     lport/p1  'web-1'" in lines[0]
    assert "put     chassis/compute-2" in lines[1] and "problem" in lines[1]
    assert lines[2].endswith("delete  chassis/compute-1")


async def test_watch_json_from_etcd_hides_secrets(etcd_server: EtcdServer) -> None:
    proc = start_nb(
        "watch", "--nb", etcd_server.url, "--json", "--count", "2", "--table", "bgp_peer"
    )  # fmt: skip
    try:
        wait_for_line(proc.stderr, "watching etcd://")
        peer_key, peer = next((k, v) for k, v in MORE_EXAMPLES if k.startswith("/bgp_peer/"))
        await seed_etcd(etcd_server, [("/lport/ignored", "{}"), (peer_key, peer)])
        async with aetcd.Client(port=etcd_server.port) as client:
            await client.delete(peer_key.encode())
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    put, delete = (json.loads(line) for line in out.splitlines())
    assert (put["op"], put["table"], delete["op"]) == ("put", "bgp_peer", "delete")
    assert put["object"]["name"] == "upstream-rtr" and "password" not in put["object"]
    assert delete["object"] is None and delete["revision"] > put["revision"]
    assert SECRET not in out


async def test_the_nb_can_come_from_dragonflow_ini(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with redis.Redis(port=redis_server.port) as client:
        client.set("{chassis.}compute-1", '{"id": "compute-1", "ip": "192.168.100.11"}')
    ini = tmp_path / "dragonflow.ini"
    ini.write_text(
        f"[df]\nnb_db_class = redis_nb_db_driver\nremote_db_hosts = 127.0.0.1:{redis_server.port}\n"
    )
    result = nb("dump", "--config", str(ini))
    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)["chassis"]] == ["compute-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dump", "--nb", f"etcd://127.0.0.1:{free_port()}"], "etcd unreachable"),
        (["watch", "--nb", f"redis://127.0.0.1:{free_port()}"], "unreachable"),
        (["check", "--nb", "file:///nonexistent/dump.json"], "cannot read"),
        (["dump", "--nb", "gopher://x"], "unknown scheme 'gopher'"),
        (["dump"], "no NB given"),
        (["dump", "--nb", "memory://", "--table", "lportz"], "unknown table(s) lportz"),
        (["dump", "--config", "/nonexistent/dragonflow.ini"], "cannot read"),
    ],
)
def test_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = nb(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("dragonscope nb: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
