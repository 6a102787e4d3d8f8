"""Secrets stay secret: every credential shape, planted in a real etcd NB and in the
configuration, is looked for in the output of every CLI command, of every REST
endpoint and WebSocket, and in the analyzer's and the collector's logs; no part of
any of them may appear."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from dragonscope.analyzer.users import add_user
from dragonscope.demo.generate import generate
from dragonscope.demo.writers import write
from dragonscope.nb.backends import etcd_key
from servers import EtcdServer, free_port, wait_port

pytestmark = pytest.mark.timeout(300)

DRAGONSCOPE = [sys.executable, "-m", "dragonscope"]
ADMIN_PW = "Adm-Qw83-pw-Zr61"
# Each credential shape, with a value found nowhere else.
BGP_DECLARED = "Bgp7-Decl-Xk42-pw"
BGP_MALFORMED = "Bgp9-Malf-Rt55-pw"  # stored in a value that is not valid JSON
MD5_KEY = "md5v-Ux71-Kp20-key"
PSK = "pskv-Hy38-Lm94-sec"
NESTED_TOKEN = "tokn-Wd62-Fa17-nst"
URL_PASSWORD = "urlp-Jc45-Oe83-pw"  # in a URL in a declared field (a network's name)
RANDOM_KEY = "vQ8xL2mZ7rT4kW9pN3bY6hJ1"  # high-entropy, in a field named like a key
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
INI_PASSWORD = "iniP-Gs26-Vb08-pw"  # the collector's analyzer password, in dragonflow.ini
TYPED_IN_USER = "typd-Nq53-Ec91-pw"  # a password typed into the user name field
REDIS_PASSWORD = "rdsP-Tf47-Yu30-pw"  # in an NB URL given on the command line


def pieces(secret: str, size: int = 6) -> set[str]:
    """Every run of ``size`` characters of a secret: printing part of one is a leak."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(piece in text for piece in pieces(s))]


def around(text: str, secrets: list[str]) -> list[str]:
    """Where the secrets show in ``text``, for the failure message."""
    found = []
    for secret in secrets:
        for piece in pieces(secret):
            at = text.find(piece)
            if at >= 0:
                found.append(text[max(0, at - 150) : at + 50])
                break
    return found


def planted(sample: dict) -> dict[tuple[str, str], str]:
    """The stored values (etcd keys → text) that carry the secrets."""
    port = dict(sample["lport"][1], md5_key=MD5_KEY, psk=PSK)
    network = dict(sample["lswitch"][1], name=f"https://ops:{URL_PASSWORD}@10.0.0.1/")
    router = dict(sample["lrouter"][0], extra={"nested": [{"auth_token": NESTED_TOKEN}]})
    router["vpn_key"] = RANDOM_KEY
    router["tls_material"] = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\n"
    peer = dict(sample["bgp_peer"][0], password=BGP_DECLARED)
    broken_id = "bgp-broken"
    broken = f'{{"id": "{broken_id}", "name": "tor-9", "password": "{BGP_MALFORMED}'
    values = {
        ("lport", port["id"]): json.dumps(port),
        ("lswitch", network["id"]): json.dumps(network),
        ("lrouter", router["id"]): json.dumps(router),
        ("bgp_peer", peer["id"]): json.dumps(peer),
        ("bgp_peer", broken_id): broken,
    }
    return values


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[dict]:
    """A real etcd with the sample cloud, an analyzer with users, and a collector
    configured from dragonflow.ini; the secrets planted while all of them run."""
    work = tmp_path_factory.mktemp("secrets")
    etcd = EtcdServer()
    etcd.start()
    sample = generate("small", seed=0)
    asyncio.run(write(sample, etcd.url))
    users = work / "users"
    add_user(users, "root", "admin", ADMIN_PW)
    add_user(users, "collector", "publisher", INI_PASSWORD)
    port = free_port()
    ini = work / "dragonflow.ini"
    ini.write_text(
        f"[df]\nnb_db_class = etcd_nb_db_driver\nremote_db_hosts = {etcd.endpoint}\n"
        f"[df_skydive]\nanalyzer_endpoint = 127.0.0.1:{port}\nuser = collector\n"
        f"password = {INI_PASSWORD}\nupdate_interval = 1\n"
    )
    logs = {"analyzer": work / "analyzer.log", "collector": work / "collector.log"}
    procs = []
    try:
        procs.append(start(logs["analyzer"], "analyzer", "--users", str(users),
                           "--listen", f"127.0.0.1:{port}"))  # fmt: skip
        wait_port(port, timeout=60)
        procs.append(start(logs["collector"], "-v", "collector", "--config", str(ini)))
        watchers = [
            start(work / "watch.txt", "nb", "watch", "--nb", etcd.url, "--count", "5"),
            start(work / "watch-json.txt", "nb", "watch", "--nb", etcd.url, "--count", "5",
                  "--json"),
        ]  # fmt: skip
        deadline = time.monotonic() + 60
        while not all(
            "watching" in (work / n).read_text() for n in ("watch.txt", "watch-json.txt")
        ):
            assert time.monotonic() < deadline, "nb watch did not start"
            time.sleep(0.2)
        for (table, id_), value in planted(sample).items():
            etcd.put(etcd_key(table, id_).decode(), value)
        for watcher in watchers:
            watcher.wait(60)
        yield {"url": f"http://127.0.0.1:{port}", "etcd": etcd, "ini": ini, "work": work,
               "logs": logs, "sample": sample}  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
        etcd.cleanup()


def start(log: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGONSCOPE_")}
    with open(log, "wb") as out:
        return subprocess.Popen([*DRAGONSCOPE, *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env)  # fmt: skip


def run(*args: str, env: dict[str, str] | None = None, seconds: float = 120) -> str:
    """A command's exit code and output; one that keeps retrying is interrupted after
    ``seconds``, as an operator would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRAGONSCOPE_")}
    proc = subprocess.Popen(
        [*DRAGONSCOPE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**environ, **(env or {})},
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    return f"$ dragonscope {' '.join(args[:2])} ... -> {proc.returncode}\n{out}\n{err}"


def basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"root:{ADMIN_PW}".encode()).decode()}


async def rest_outputs(url: str, planted_ids: list[str]) -> list[str]:
    """Every REST endpoint and the subscriber's WebSocket, as the admin sees them."""
    out = []
    async with aiohttp.ClientSession(headers=basic()) as http:
        deadline = time.monotonic() + 60
        while True:  # the collector has published the planted objects
            async with http.post(url + "/api/topology", json={"GremlinQuery": "G.V()"}) as r:
                text = await r.text()
            if all(i in text for i in planted_ids[:4]) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        out.append(text)
        paths = ["/api", "/api/topology", "/api/node", "/api/edge", "/api/changes",
                 "/api/status", "/api/rejections", "/api/views", "/api/noderule",
                 "/api/edgerule", "/api/alert", "/metrics", "/api/openapi.json", "/healthz",
                 "/api/changes?since=0"]  # fmt: skip
        async with http.get(url + "/api/views") as r:
            views = await r.json()
        names = [v["Name"] if isinstance(v, dict) else v for v in views]
        paths += [f"/api/views/{name}" for name in names if isinstance(name, str)]
        paths += [f"/api/node/{i}" for i in planted_ids]
        for path in paths:
            async with http.get(url + path) as r:
                out.append(f"GET {path} {r.status}\n{await r.text()}")
        for query in ("G.V().Has('Type', 'bgp_peer')", "G.V().Has('Problems')"):
            async with http.post(url + "/api/topology", json={"GremlinQuery": query}) as r:
                out.append(await r.text())
        async with http.post(url + "/api/trace", json={"from": planted_ids[0]}) as r:
            out.append(await r.text())
        ws = await http.ws_connect(url + "/ws/subscriber", headers={"X-Client-Type": "t"})
        sync = {"Namespace": "Graph", "Type": "SyncRequest", "UUID": "s", "Obj": {}}
        await ws.send_str(json.dumps(sync))
        out.append((await ws.receive(timeout=20)).data)
        await ws.close()
    async with aiohttp.ClientSession() as anonymous:
        form = {"username": TYPED_IN_USER, "password": "x"}
        async with anonymous.post(url + "/login", data=form) as r:
            out.append(f"login {r.status} {await r.text()}")
    return out


def test_no_secret_leaves_the_process(cloud):
    url, etcd, work = cloud["url"], cloud["etcd"].url, cloud["work"]
    ids = [id_ for _, id_ in planted(cloud["sample"])]
    outputs = asyncio.run(rest_outputs(url, ids))
    analyzer = url.removeprefix("http://")
    password_file = work / "password"
    password_file.write_text(ADMIN_PW + "\n")
    auth = ("--analyzer", analyzer, "--user", "root", "--password-file", str(password_file))
    sample = cloud["sample"]
    a, b = sample["lport"][3]["id"], sample["lport"][6]["id"]
    outputs += [
        (work / "watch.txt").read_text(),
        (work / "watch-json.txt").read_text(),
        run("nb", "dump", "--nb", etcd),
        run("nb", "dump", "--nb", etcd, "--compact", "--table", "bgp_peer"),
        run("nb", "dump", "--config", str(cloud["ini"])),
        run("nb", "check", "--nb", etcd),
        run("nb", "check", "--nb", etcd, "--json"),
        run("query", "G.V()", "--nb", etcd, "--json"),
        run("query", "G.V().Has('Type', 'lrouter')", "--nb", etcd),
        run("query", "--saved", "problems()", "--nb", etcd),
        run("query", "G.V()", "--json", *auth),
        run("query", "G.V().Has('Type', 'bgp_peer')", *auth),
        run("trace", "--nb", etcd, "--from", a, "--to", b, "--format", "json"),
        run("trace", "--nb", etcd, "--from", a, "--to", b),
        run("reach", "--nb", etcd, "--format", "json"),
        run("trace", "--from", a, "--to", b, *auth),
        run("nb", "dump", "--nb", f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"),
        run("query", "G.V()", "--nb", f"redis://u:{REDIS_PASSWORD}@127.0.0.1:1"),
        run("collector", "--nb", f"redis://:{REDIS_PASSWORD}@127.0.0.1:1", "--analyzer",
            "127.0.0.1:1", "--backoff-max", "0.1", seconds=5),
        run("query", "G.V()", "--analyzer", analyzer, "--user", "root", "--password",
            TYPED_IN_USER),
        run("analyzer", "adduser", str(work / "more-users"), "someone",
            env={"DRAGONSCOPE_PASSWORD": INI_PASSWORD}),
    ]  # fmt: skip
    logs = {name: path.read_text() for name, path in cloud["logs"].items()}
    secrets = [
        BGP_DECLARED,
        BGP_MALFORMED,
        MD5_KEY,
        PSK,
        NESTED_TOKEN,
        URL_PASSWORD,
        RANDOM_KEY,
        PEM_BODY,
        INI_PASSWORD,
        TYPED_IN_USER,
        REDIS_PASSWORD,
        ADMIN_PW,
    ]
    secrets += [p["password"] for p in sample["bgp_peer"][1:] if p.get("password")]  # fmt: skip
    found = {i: leaks(text, secrets) for i, text in enumerate(outputs) if leaks(text, secrets)}
    found.update(
        {name: leaks(text, secrets) for name, text in logs.items() if leaks(text, secrets)}
    )
    assert not found, {k: (v, around(outputs[k] if isinstance(k, int) else logs[k], v))
                       for k, v in found.items()}  # fmt: skip
    # The planted objects did reach every output (so the checks above saw them).
    everything = "\n".join(outputs)
    for id_ in ids:
        assert id_ in everything
    watched = (work / "watch.txt").read_text() + (work / "watch-json.txt").read_text()
    assert "bgp_peer/bgp-broken" in watched and "near (not shown: a secret)" in watched
    assert "collector" in logs["analyzer"] and "publisher" in logs["analyzer"]
