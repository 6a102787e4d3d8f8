"""Writers lay the generated cloud out exactly as Dragonflow's drivers do, in real stores."""

from __future__ import annotations

import itertools
import json

import pytest
import redis.asyncio

from dragonscope.demo.churn import Churn
from dragonscope.demo.generate import generate
from dragonscope.demo.writers import WriterError, open_writer, write
from dragonscope.nb import dump_json, encode
from dragonscope.nb.backends import open_backend
from dragonscope.nb.backends.memory import MemoryBackend
from dragonscope.nb.schema import check, parse


def objects_of(dump: dict) -> dict[tuple[str, str], bytes]:
    return {(t, o["id"]): encode(o) for t, rows in dump.items() if t != "unique_key" for o in rows}


async def read_back(url_or_backend) -> dict[tuple[str, str], bytes]:
    backend = open_backend(url_or_backend) if isinstance(url_or_backend, str) else url_or_backend
    try:
        entries, _ = await backend.snapshot()
    finally:
        if isinstance(url_or_backend, str):
            await backend.close()
    return {(e.table, e.id): e.value for e in entries}


def only_deliberate_problems(stored: dict[tuple[str, str], bytes]) -> None:
    snapshot = {}
    for (table, obj_id), value in stored.items():
        obj = parse(table, obj_id, value)
        assert obj.valid, obj.problems
        snapshot[obj.key] = obj
    problems = check(snapshot)
    assert sorted((p.table, (p.field or "").split("[")[0]) for p in problems) == [
        ("floatingip", "lport"),
        ("lport", "binding.chassis"),
        ("lport", "security_groups"),
    ]


async def test_etcd_layout_parses_back_and_follows_churn(etcd_server) -> None:
    dump = generate("small", seed=0)
    writer = open_writer(etcd_server.url)
    try:
        assert await writer.is_empty()
        assert await writer.write_dump(dump) == sum(
            len(r) for t, r in dump.items() if t != "unique_key"
        )
        assert not await writer.is_empty()
        stored = {k: v for k, v in (await read_back(etcd_server.url)).items()}
        stored = {k: v for k, v in stored.items() if k[0] != "unique_key"}
        assert stored == objects_of(dump)
        only_deliberate_problems(stored)
        counter = etcd_server.get("/unique_key/lport")
        assert counter == str(
            next(r["unique_key"] for r in dump["unique_key"] if r["id"] == "lport")
        )
        churn = Churn(dump, seed=1)
        for _ in range(150):
            await writer.apply(churn.step())
    finally:
        await writer.close()
    stored = {k: v for k, v in (await read_back(etcd_server.url)).items() if k[0] != "unique_key"}
    assert stored == objects_of(churn.state())
    counter = etcd_server.get("/unique_key/lport")
    assert counter == str(churn.keys["lport"])


async def test_redis_layout_uses_dragonflow_keys(redis_server) -> None:
    dump = generate("small", seed=0)
    writer = open_writer(redis_server.url)
    client = redis.asyncio.Redis(port=redis_server.port)
    try:
        assert await writer.is_empty()
        await writer.write_dump(dump)
        assert not await writer.is_empty()
        port = dump["lport"][0]
        raw = await client.get("{lport." + port["topic"] + "}" + port["id"])
        assert raw == encode(port)
        assert await client.get("{chassis.}compute-1") == encode(dump["chassis"][0])
        assert int(await client.get("{unique_key.}lport")) == next(
            r["unique_key"] for r in dump["unique_key"] if r["id"] == "lport"
        )
        stored = {}
        async for key in client.scan_iter(match="*", count=1000):
            table, _, rest = key.decode()[1:].partition(".")
            _topic, _, obj_id = rest.partition("}")
            if table != "unique_key":
                stored[(table, obj_id)] = await client.get(key)
        assert stored == objects_of(dump)
        only_deliberate_problems(stored)
        churn = Churn(dump, seed=2)
        for _ in range(100):
            await writer.apply(churn.step())
        keys = {k.decode() async for k in client.scan_iter(match="*", count=1000)}
        expected = {
            "{" + f"{t}.{o.get('topic', '')}" + "}" + o["id"]
            for t, rows in churn.state().items()
            if t != "unique_key"
            for o in rows
        }
        assert {k for k in keys if not k.startswith("{unique_key.")} == expected
    finally:
        await writer.close()
        await client.aclose()


async def test_file_output_is_the_dump_and_a_readable_nb(tmp_path) -> None:
    dump = generate("small", seed=4)
    path = tmp_path / "cloud.json"
    assert await write(dump, f"file://{path}") == sum(
        len(r) for t, r in dump.items() if t != "unique_key"
    )
    assert path.read_bytes() == dump_json(dump)
    assert json.loads(path.read_text())["unique_key"] == dump["unique_key"]
    only_deliberate_problems(await read_back(f"file://{path}"))


async def test_file_output_follows_the_churn(tmp_path) -> None:
    dump = generate("small", seed=5)
    path = tmp_path / "cloud.json"
    writer = open_writer(str(path))
    assert await writer.is_empty()
    await writer.write_dump(dump)
    churn = Churn(dump, seed=5)
    for _ in range(200):
        await writer.apply(churn.step())
    await writer.close()
    assert path.read_bytes() == dump_json(churn.state())
    assert [p.name for p in tmp_path.iterdir()] == ["cloud.json"]  # no temporary file left


async def test_memory_backend_follows_the_churn() -> None:
    backend = MemoryBackend()
    dump = generate("small", seed=0)
    writer = open_writer(backend)
    assert await writer.is_empty()
    await writer.write_dump(dump)
    churn = Churn(dump, seed=3)
    await writer.apply(itertools.chain.from_iterable(churn.step() for _ in range(300)))
    assert await read_back(backend) == objects_of(churn.state())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nowhere", "is not an output URL"),
        ("ftp://host/x.json", "unknown scheme 'ftp'"),
        ("etcd://", "names no host"),
        ("etcd://host:99999", "bad port"),
        ("redis://host:6379/x", "must be a number"),
        ("file://", "names no file"),
    ],
)
def test_bad_output_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(WriterError, match=message):
        open_writer(url)


async def test_unreachable_etcd_is_one_clear_error() -> None:
    from servers import free_port

    writer = open_writer(f"etcd://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(WriterError, match=r"etcd at 127\.0\.0\.1:"):
            await writer.write_dump(generate("small"))
    finally:
        await writer.close()


def test_passwords_in_urls_are_never_shown() -> None:
    from dragonscope.demo import shown_url

    assert shown_url("redis://:s3cret@10.0.0.5:6379/2") == "redis://:***@10.0.0.5:6379/2"
    assert shown_url("redis://admin:s3cret@10.0.0.5") == "redis://admin:***@10.0.0.5"
    assert shown_url("etcd://10.0.0.5:2379") == "etcd://10.0.0.5:2379"
    assert open_writer("redis://:s3cret@10.0.0.5:6379/2").url == "redis://:***@10.0.0.5:6379/2"
    with pytest.raises(WriterError) as error:
        open_writer("redis://:s3cret@10.0.0.5:99999")
    assert "s3cret" not in str(error.value) and "***" in str(error.value)
