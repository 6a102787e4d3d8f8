"""Auth: users file, tokens, roles, and what each refusal answers; the graph stays unchanged."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from analyzer_support import msg, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer, AnalyzerError, AnalyzerSettings
from dragonscope.analyzer.users import UsersFileError, add_user, load_users
from dragonscope.graph.model import Node

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "users"
    add_user(path, "root", "admin", "rootpw")
    add_user(path, "pub", "publisher", "pubpw")
    add_user(path, "ro", "reader", "ropw")
    return path


@pytest.fixture
async def analyzer(users_file):
    async with Analyzer(settings(users_file=users_file, token_ttl=30)) as running:
        running.store.add_node(Node("seed", {"Name": "seed", "Type": "fabric"}), "test.seed")
        yield running


async def login(http, analyzer, user, password):
    return await http.post(analyzer.url + "/login", data={"username": user, "password": password})


def graph_state(analyzer):
    return sorted(n.id for n in analyzer.graph.nodes()), analyzer.graph.edge_count()


async def test_wrong_password_and_no_token(analyzer):
    before = graph_state(analyzer)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await login(http, analyzer, "root", "nope")
        assert response.status == 401 and await response.text() == "Wrong credentials"
        response = await login(http, analyzer, "ghost", "nope")
        assert response.status == 401
        response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": "G.V()"})
        assert response.status == 401
        response = await http.post(analyzer.url + "/api/node", json=node("x"))
        assert response.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        assert refused.value.status == 401
        response = await http.get(
            analyzer.url + "/api/node", headers={"Cookie": "authtoken=forged-token"}
        )
        assert response.status == 401
    assert graph_state(analyzer) == before


async def test_login_cookie_and_basic_auth(analyzer):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await login(http, analyzer, "ro", "ropw")
        assert response.status == 200
        body = await response.json()
        assert body["Token"] and response.cookies["authtoken"].value == body["Token"]
        response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": "G.V()"})
        assert response.status == 200 and len(await response.json()) == 1
        await http.get(analyzer.url + "/logout", allow_redirects=False)
        response = await http.get(
            analyzer.url + "/api/node", headers={"Cookie": f"authtoken={body['Token']}"}
        )
        assert response.status == 401
    basic = base64.b64encode(b"ro:ropw").decode()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await http.get(
            analyzer.url + "/api/node", headers={"Authorization": f"Basic {basic}"}
        )
        assert response.status == 200
        response = await http.get(
            analyzer.url + "/api/node",
            headers={"Authorization": "Basic " + base64.b64encode(b"ro:bad").decode()},
        )
        assert response.status == 401


async def test_expired_token(analyzer):
    clock = [1000.0]
    analyzer.auth._clock = lambda: clock[0]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, analyzer, "root", "rootpw")
        ok = await http.get(analyzer.url + "/api/node")
        assert ok.status == 200
        clock[0] += 31
        before = graph_state(analyzer)
        response = await http.get(analyzer.url + "/api/node")
        assert response.status == 401 and "expired" in await response.text()
        response = await http.post(analyzer.url + "/api/node", json=node("late"))
        assert response.status == 401
        # Every later use says so too, from a cookie or in a header, after a login's purge.
        token = next(c.value for c in http.cookie_jar if c.key == "authtoken")
        await login(http, analyzer, "root", "rootpw")
        async with aiohttp.ClientSession() as bare:
            for headers in ({"Cookie": f"authtoken={token}"}, {"X-Auth-Token": token}):
                for _ in range(2):
                    response = await bare.get(analyzer.url + "/api/node", headers=headers)
                    assert response.status == 401
                    assert await response.text() == "Token expired\n"
    assert graph_state(analyzer) == before


async def test_reader_cannot_publish(analyzer):
    before = graph_state(analyzer)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, analyzer, "ro", "ropw")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("r"))
        assert refused.value.status == 403
        subscriber = await http.ws_connect(
            analyzer.url + "/ws/subscriber", headers={"X-Client-Type": "t", "X-Host-ID": "r"}
        )
        await subscriber.close()
        response = await http.post(analyzer.url + "/api/node", json=node("x"))
        assert response.status == 405
    assert graph_state(analyzer) == before


async def test_publisher_cannot_delete_via_rest_but_can_publish(analyzer):
    before = graph_state(analyzer)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, analyzer, "pub", "pubpw")
        response = await http.delete(analyzer.url + "/api/node/seed")
        assert response.status == 405
        response = await http.post(analyzer.url + "/api/noderule", json={"Action": "create"})
        assert response.status == 405
        assert graph_state(analyzer) == before
        ws = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        await ws.send_str(msg("NodeAdded", node("published")))
        await ws.send_str(msg("SyncRequest", {}, uuid="s"))
        await ws.receive_str()
        await ws.close()
    assert analyzer.graph.node("published") is not None


async def test_admin_may_write(analyzer):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, analyzer, "root", "rootpw")
        response = await http.delete(analyzer.url + "/api/node/seed")
        assert response.status == 200
    assert analyzer.graph.node("seed") is None


async def test_passwords_and_tokens_never_logged(analyzer, caplog):
    caplog.set_level("DEBUG")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await login(http, analyzer, "pub", "pubpw")
        token = (await response.json())["Token"]
        ws = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("log"))
        await ws.send_str(msg("NodeAdded", {"ID": "bad"}))
        await ws.receive_str()
        await ws.close()
        await login(http, analyzer, "pub", "wrong-password-here")
    text = caplog.text
    assert "pubpw" not in text and token not in text and "wrong-password-here" not in text


def test_no_auth_refused_on_public_address_unless_insecure():
    with pytest.raises(AnalyzerError, match="--insecure"):
        Analyzer(AnalyzerSettings(host="0.0.0.0", port=0))
    Analyzer(AnalyzerSettings(host="0.0.0.0", port=0, insecure=True))
    Analyzer(AnalyzerSettings(host="::1", port=0))


def test_users_file_errors(tmp_path):
    bad = tmp_path / "users"
    bad.write_text("alice:superuser:$argon2id$x\n")
    with pytest.raises(UsersFileError, match=r"users:1: invalid role 'superuser'"):
        load_users(bad)
    bad.write_text("alice:admin:plaintext\n")
    with pytest.raises(UsersFileError, match="argon2 hash"):
        load_users(bad)
    with pytest.raises(UsersFileError, match="cannot read"):
        load_users(tmp_path / "missing")
    path = tmp_path / "ok"
    assert add_user(path, "bob", "reader", "pw") is True
    assert add_user(path, "bob", "admin", "pw2") is False
    assert load_users(path)["bob"].role == "admin"
    assert "pw2" not in path.read_text()


async def test_users_file_reload_applies_new_roles_and_removals(tmp_path):
    users = tmp_path / "users"
    add_user(users, "amy", "admin", "pw")
    add_user(users, "bob", "reader", "pw")
    async with Analyzer(settings(users_file=users)) as running:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await login(http, running, "amy", "pw")
            assert (await http.post(running.url + "/api/node", json=node("a"))).status == 201
            users.write_text(
                "\n".join(
                    line.replace(":admin:", ":reader:") for line in users.read_text().splitlines()
                )
            )
            assert running.reload_users() == 2
            assert (await http.post(running.url + "/api/node", json=node("b"))).status == 405
            users.write_text("garbage\n")
            with pytest.raises(UsersFileError):
                running.reload_users()
            assert (await http.get(running.url + "/api/node")).status == 200
