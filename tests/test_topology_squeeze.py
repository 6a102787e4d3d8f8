"""A global topology's kept texts, compressed once their table has learned a dictionary:
read back exactly, compared by what they say, whichever form each was kept in.

Dictionaries live as long as the process, so each test learns under a table name of its
own, and the topology test holds whatever an earlier test in the process left learned."""

from __future__ import annotations

import orjson

from demo_snapshot import demo_snapshot
from dragonscope.nb import Change
from dragonscope.topology import (
    Action,
    Topology,
    held_form,
    node_id,
    packed_text,
    squeeze,
    translate,
)
from dragonscope.topology.packed import Split, pack, pack_sharing, same_metadata


def _ports(count: int) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "id": f"port-{i}",
                "name": f"web-{i}",
                "lswitch": "net-blue",
                "topic": "tenant-acme",
                "ips": [f"10.0.{i // 250}.{i % 250}"],
                "macs": [f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"],
            }
        )
        for i in range(count)
    ]


def test_a_table_learns_once_and_its_texts_read_back_exactly() -> None:
    table = "squeeze-test-learns"
    texts = _ports(700)
    assert squeeze.squeeze(table, texts[0]) == texts[0].decode()  # nothing learned yet
    squeeze.learn(table, [text.decode() for text in texts[: squeeze.LEARN_AT]])
    assert squeeze.learned(table)
    packed = [squeeze.squeeze(table, text) for text in texts]
    assert all(isinstance(p, bytes) for p in packed)
    assert [squeeze.expand(p) for p in packed] == [text.decode() for text in texts]
    assert squeeze.squeeze(table, texts[7]) == packed[7]  # the same text, the same bytes
    assert 2 * sum(map(len, packed)) < sum(map(len, texts))
    assert squeeze.squeeze(table, b'{"id":"x"}') == '{"id":"x"}'  # too short to gain
    assert squeeze.squeeze("squeeze-test-never-learned", texts[1]) == texts[1].decode()


def test_a_table_that_cannot_learn_stays_plain_and_never_retries() -> None:
    table = "squeeze-test-cannot"
    squeeze.learn(table, ["{}", b"not a text", None])  # nothing long enough to learn from
    assert squeeze.learned(table)
    squeeze.learn(table, [text.decode() for text in _ports(600)])
    text = _ports(1)[0]
    assert squeeze.squeeze(table, text) == text.decode()


def test_a_plain_and_a_compressed_text_of_the_same_metadata_are_the_same() -> None:
    table = "squeeze-test-mixed"
    metadata = orjson.loads(_ports(1)[0])
    plain = pack(metadata, table)
    squeeze.learn(table, [text.decode() for text in _ports(600)])
    compressed = pack(metadata, table)
    assert isinstance(plain, str) and isinstance(compressed, bytes)
    assert same_metadata(plain, compressed) and same_metadata(compressed, plain)
    assert not same_metadata(compressed, pack({**metadata, "name": "other"}, table))
    # Split texts: a head kept plain and one compressed, sharing the same fields text.
    fields = pack({"name": "web-0", "lswitch": "net-blue", "unique_key": 12}, table)
    shown = {"Table": table, "ID": "port-0", "name": "web-0", "lswitch": "net-blue"}
    shown["unique_key"] = 12
    node = {"Name": "web-0 " + "x" * 80, "Dragonflow": shown, "State": "UP"}
    before = pack_sharing(node, packed_text(fields), None)
    after = pack_sharing(node, fields, table)
    assert isinstance(before, Split) and isinstance(after, Split)
    assert isinstance(after.head, bytes) and after.fields is fields
    assert same_metadata(before, after)
    assert orjson.loads(packed_text(after)) == node


def test_a_global_topology_loaded_in_pages_keeps_texts_compressed_and_reads_them_exactly() -> None:
    snapshot = demo_snapshot("medium", seed=3)
    objects = list(snapshot.values())
    topology = Topology(extensions=[])
    topology.begin_load()
    for start in range(0, len(objects), 250):
        topology.load_batch(objects[start : start + 250])
    topology.end_load()
    assert squeeze.learned("lport")

    ports = [key for key in snapshot if key[0] == "lport"]
    kept = [held_form(topology.nodes[node_id(*key)]) for key in ports]
    squeezed = [k for k in kept if isinstance(k, Split) and isinstance(k.head, bytes)]
    assert len(squeezed) > len(ports) // 2
    nodes, edges = translate(snapshot, extensions=[])
    assert {nid: node.metadata for nid, node in topology.nodes.items()} == {
        nid: node.metadata for nid, node in nodes.items()
    }
    assert {eid: (e.parent, e.child, e.metadata) for eid, e in topology.edges.items()} == {
        eid: (e.parent, e.child, e.metadata) for eid, e in edges.items()
    }

    # The first port's texts were kept before lport learned (when this test learned it),
    # the last port's after: the same object again is no change, a rename is one update.
    for key in (ports[0], ports[-1]):
        obj = snapshot[key]
        assert topology.apply(Change(*key, obj, 1)) == []
        renamed = type(obj)(*key, {**obj.data, "name": "renamed"})
        ops = topology.apply(Change(*key, renamed, 2))
        port_ops = [op for op in ops if op.element.id == node_id(*key)]
        assert [op.action for op in port_ops] == [Action.UPDATE]
        assert port_ops[0].element.metadata["Name"] == "renamed"
        assert topology.snapshot[key].data["name"] == "renamed"
