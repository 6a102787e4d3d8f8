"""The real skydive-client package against our analyzer, as its own test suite uses it."""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest
from skydive.rest.client import BadRequest, RESTClient
from skydive.websocket.client import (
    EdgeAddedMsgType,
    NodeAddedMsgType,
    WSClient,
    WSClientDebugProtocol,
    WSClientDefaultProtocol,
    WSMessage,
)

from analyzer_support import ThreadedAnalyzer
from dragonscope.analyzer.users import add_user

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client_loop():
    """skydive-client drives asyncio.get_event_loop(); give it a fresh one."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


class InjectingProtocol(WSClientDefaultProtocol):
    """What skydive-client's own test_injection does (reference §4.4)."""

    def onOpen(self):
        self.sendWSMessage(
            WSMessage(
                "Graph",
                NodeAddedMsgType,
                {"ID": "TOR_TEST", "Host": "", "Metadata": {"Name": "Test TOR", "Type": "fabric"}},
            )
        )
        self.sendWSMessage(
            WSMessage(
                "Graph",
                NodeAddedMsgType,
                {
                    "ID": "PORT_TEST",
                    "Host": "",
                    "Metadata": {"Name": "Test port", "Type": "fabric"},
                },
            )
        )
        self.sendWSMessage(
            WSMessage(
                "Graph",
                NodeAddedMsgType,
                {"ID": "BAD_NODE", "Host": "", "Metadata": {"Name": "Bad node"}},
            )
        )
        self.sendWSMessage(
            WSMessage(
                "Graph",
                NodeAddedMsgType,
                {"ID": "BAD_NETNS", "Host": "", "Metadata": {"Name": "Bad netns", "Type": "netns"}},
            )
        )
        self.sendWSMessage(
            WSMessage(
                "Graph",
                EdgeAddedMsgType,
                {
                    "ID": "TOR_L2LINK",
                    "Host": "",
                    "Metadata": {"RelationType": "layer2"},
                    "Parent": "TOR_TEST",
                    "Child": "PORT_TEST",
                },
            )
        )
        self.sendWSMessage(
            WSMessage(
                "Graph",
                EdgeAddedMsgType,
                {
                    "ID": "BAD_LINK",
                    "Host": "",
                    "Metadata": {"RelationType": "layer2"},
                    "Parent": "",
                    "Child": "",
                },
            )
        )
        self.stop_when_complete()


def _wait(rest: RESTClient, query: str, count: int, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = rest.lookup_nodes(query) if query.startswith("G.V") else rest.lookup_edges(query)
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_injection_lookup_and_rejections(client_loop):
    with ThreadedAnalyzer() as analyzer:
        endpoint = f"127.0.0.1:{analyzer.port}"
        ws = WSClient("host-test2", f"ws://{endpoint}/ws/publisher", protocol=InjectingProtocol)
        ws.connect()
        ws.start()
        rest = RESTClient(endpoint)
        nodes = _wait(rest, "G.V().Has('Name', 'Test port')", 1)
        assert [n.id for n in nodes] == ["PORT_TEST"]
        assert rest.lookup_nodes("G.V().Has('Name', 'Bad netns')") == []
        assert rest.lookup_nodes("G.V().Has('Name', 'Bad node')") == []
        edges = rest.lookup_edges("G.E().Has('RelationType', 'layer2')")
        assert [e.id for e in edges] == ["TOR_L2LINK"]
        assert rest.lookup("G.V().Count()") == 2
        origin = rest.lookup("G.V().Has('Name', 'Test TOR').Values('@Origin')")
        assert origin == ["skydive-python-client.host-test2"]
        rejected = analyzer.rejections.recent("skydive-python-client.host-test2")
        assert {(r.element_id, r.rule) for r in rejected} == {
            ("BAD_NODE", "schema"),
            ("BAD_NETNS", "schema"),
            ("BAD_LINK", "decode"),
        }
        with pytest.raises(BadRequest, match="Expected"):
            rest.lookup("G.V().Nope()")


def test_subscriber_receives_sync_reply(client_loop):
    received: list[bytes] = []

    class Recorder(WSClientDebugProtocol):
        def onMessage(self, payload, isBinary):
            received.append(payload)
            self.stop_when_complete()

    with ThreadedAnalyzer() as analyzer:
        rest = RESTClient(f"127.0.0.1:{analyzer.port}")
        rest.node_create("n1", metadata={"Name": "one", "Type": "fabric"})
        ws = WSClient(
            "sub-1",
            f"ws://127.0.0.1:{analyzer.port}/ws/subscriber",
            protocol=Recorder,
            sync=True,
            filter="G.V().Has('Name', 'one').SubGraph()",
        )
        ws.connect()
        ws.start()
    assert b'"SyncReply"' in received[0] and b'"n1"' in received[0]


def test_rest_nodes_edges_and_rules(client_loop):
    with ThreadedAnalyzer() as analyzer:
        rest = RESTClient(f"127.0.0.1:{analyzer.port}")
        a = rest.node_create("a", metadata={"Name": "a", "Type": "fabric"})
        rest.node_create("b", metadata={"Name": "b", "Type": "fabric"})
        assert a.id == "a" and a.host
        e = rest.edge_create("a", "b", edge_id="ab", metadata={"RelationType": "layer2"})
        assert {n.id for n in rest.node_list()} == {"a", "b"}
        assert [x.id for x in rest.edge_list()] == [e.id]
        patched = rest.node_update("a", [{"op": "add", "path": "/Metadata/Color", "value": "red"}])
        assert patched.metadata["Color"] == "red" and patched.revision == 2
        with pytest.raises(BadRequest, match="Node ID conflict"):
            rest.node_create("a", metadata={"Name": "a", "Type": "fabric"})
        with pytest.raises(BadRequest, match="invalid schema"):
            rest.node_create("c", metadata={"Name": "c"})
        rest.edge_delete("ab")
        rest.node_delete("b")
        assert [n.id for n in rest.node_list()] == ["a"]

        r1 = rest.noderule_create("create", metadata={"Name": "node1", "Type": "fabric"})
        r2 = rest.noderule_create("create", metadata={"Name": "node2", "Type": "fabric"})
        er = rest.edgerule_create(
            "G.V().Has('Name', 'node1')",
            "G.V().Has('Name', 'node2')",
            {"RelationType": "layer2", "EdgeName": "my_edge"},
        )
        assert {r.uuid for r in rest.noderule_list()} == {r1.uuid, r2.uuid}
        assert [r.uuid for r in rest.edgerule_list()] == [er.uuid]
        assert len(rest.lookup_nodes("G.V().Has('Name', 'node1')")) == 1
        assert len(rest.lookup_nodes("G.V().Has('Name', 'node2')")) == 1
        assert (
            len(rest.lookup_edges("G.E().Has('RelationType', 'layer2', 'EdgeName', 'my_edge')"))
            == 1
        )
        rest.edgerule_delete(er.uuid)
        rest.noderule_delete(r1.uuid)
        rest.noderule_delete(r2.uuid)
        assert rest.noderule_list() == [] and rest.edgerule_list() == []
        assert rest.lookup_nodes("G.V().Has('Name', Within('node1', 'node2'))") == []


def test_login_with_user_and_password(client_loop, tmp_path):
    users = tmp_path / "users"
    add_user(users, "alice", "admin", "s3cret")
    with ThreadedAnalyzer(users_file=users) as analyzer:
        endpoint = f"127.0.0.1:{analyzer.port}"
        rest = RESTClient(endpoint, username="alice", password="s3cret")
        rest.node_create("n1", metadata={"Name": "n1", "Type": "fabric"})
        assert [n.id for n in rest.lookup_nodes("G.V()")] == ["n1"]
        with pytest.raises(Exception, match="401"):
            RESTClient(endpoint, username="alice", password="wrong").lookup("G.V()")

        class Sender(WSClientDefaultProtocol):
            def onOpen(self):
                self.sendWSMessage(
                    WSMessage(
                        "Graph",
                        NodeAddedMsgType,
                        {"ID": "ws1", "Host": "", "Metadata": {"Name": "ws1", "Type": "fabric"}},
                    )
                )
                self.stop_when_complete()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ws = WSClient(
                "pub-auth",
                f"ws://{endpoint}/ws/publisher",
                protocol=Sender,
                username="alice",
                password="s3cret",
            )
            ws.connect()
            ws.start()
        assert len(_wait(rest, "G.V().Has('Name', 'ws1')", 1)) == 1


def test_client_tolerates_rejection_replies(client_loop):
    """The error reply to a rejected message reaches skydive-client's default protocol,
    which ignores it; the same connection then keeps publishing."""

    class Patient(WSClientDefaultProtocol):
        def onOpen(self):
            self.sendWSMessage(WSMessage("Graph", NodeAddedMsgType, {"ID": "bad", "Host": ""}))
            loop = self.factory.client.loop
            loop.call_later(0.5, self.later)

        def later(self):
            self.sendWSMessage(
                WSMessage(
                    "Graph",
                    NodeAddedMsgType,
                    {"ID": "good", "Host": "", "Metadata": {"Name": "good", "Type": "fabric"}},
                )
            )
            self.stop_when_complete()

    with ThreadedAnalyzer() as analyzer:
        endpoint = f"127.0.0.1:{analyzer.port}"
        ws = WSClient("patient", f"ws://{endpoint}/ws/publisher", protocol=Patient)
        ws.connect()
        ws.start()
        assert len(_wait(RESTClient(endpoint), "G.V().Has('Name', 'good')", 1)) == 1
        assert analyzer.counters["messages_out"] == 1  # the rejection reply was sent
