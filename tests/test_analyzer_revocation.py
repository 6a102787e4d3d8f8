"""Revocation that revokes: logout in every token form, a password change, a user's
removal or a lost role end the credentials at once, and close the WebSockets opened
with them (1008, with the reason)."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from analyzer_support import publisher_headers, settings
from dragonscope.analyzer import Analyzer
from dragonscope.analyzer.users import add_user

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    add_user(path, "root", "admin", "rootpw")
    add_user(path, "pub", "publisher", "pubpw")
    return path


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


async def token(http, analyzer, user="root", password="rootpw"):
    form = {"username": user, "password": password}
    async with http.post(analyzer.url + "/login", data=form) as reply:
        assert reply.status == 200
        return (await reply.json())["Token"]


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def status(http, analyzer, **kwargs):
    async with http.get(analyzer.url + "/api/status", **kwargs) as reply:
        return reply.status, await reply.text()


async def closed_with(ws):
    frame = await ws.receive(timeout=5)
    assert frame.type == aiohttp.WSMsgType.CLOSE, frame
    return frame.data, frame.extra


async def test_logout_revokes_the_token_in_every_form(users_file, http):
    async with Analyzer(settings(users_file=users_file)) as analyzer:
        forms = {
            "bearer": lambda t: {"headers": {"Authorization": f"Bearer {t}"}},
            "header": lambda t: {"headers": {"X-Auth-Token": t}},
            "query": lambda t: {"params": {"x-auth-token": t}},
            "cookie": lambda t: {"headers": {"Cookie": f"authtoken={t}"}},
        }
        for name, form in forms.items():
            value = await token(http, analyzer)
            assert (await status(http, analyzer, **form(value)))[0] == 200, name
            async with http.get(
                analyzer.url + "/logout", allow_redirects=False, **form(value)
            ) as reply:
                assert reply.status == 302
            for other in forms.values():  # revoked, whichever form presents it next
                assert (await status(http, analyzer, **other(value)))[0] == 401, name


async def test_password_change_and_removal_revoke_tokens_and_basic(users_file, http):
    async with Analyzer(settings(users_file=users_file)) as analyzer:
        old = await token(http, analyzer)
        bearer = {"headers": {"Authorization": f"Bearer {old}"}}
        assert (await status(http, analyzer, headers=basic("root", "rootpw")))[0] == 200
        add_user(users_file, "root", "admin", "new-password")
        analyzer.reload_users()
        assert await status(http, analyzer, **bearer) == (401, "Password changed\n")
        assert (await status(http, analyzer, headers=basic("root", "rootpw")))[0] == 401
        fresh = await token(http, analyzer, "root", "new-password")
        users_file.write_text(
            "".join(line + "\n" for line in users_file.read_text().splitlines()
                    if not line.startswith("root:"))
        )  # fmt: skip
        analyzer.reload_users()
        fresh_bearer = {"headers": {"Authorization": f"Bearer {fresh}"}}
        assert await status(http, analyzer, **fresh_bearer) == (401, "User removed\n")


async def test_websockets_close_when_their_credentials_end(users_file, http):
    async with Analyzer(settings(users_file=users_file)) as analyzer:
        url = analyzer.url
        # Logout: the publisher opened with the token is closed.
        value = await token(http, analyzer, "pub", "pubpw")
        auth = {"X-Auth-Token": value}
        ws = await http.ws_connect(url + "/ws/publisher", headers={
            **publisher_headers("p1"), **auth})  # fmt: skip
        async with http.get(url + "/logout", headers=auth, allow_redirects=False):
            pass
        assert await closed_with(ws) == (1008, "token revoked")
        # A lost role: the publisher's socket goes, its subscriber stays.
        value = await token(http, analyzer, "pub", "pubpw")
        auth = {"Authorization": f"Bearer {value}"}
        ws = await http.ws_connect(url + "/ws/publisher", headers={
            **publisher_headers("p2"), **auth})  # fmt: skip
        sub = await http.ws_connect(url + "/ws/subscriber", headers={
            "X-Client-Type": "t", "X-Host-ID": "s2", **auth})  # fmt: skip
        users_file.write_text(users_file.read_text().replace(":publisher:", ":reader:"))
        analyzer.reload_users()
        assert await closed_with(ws) == (1008, "'publish' permission withdrawn")
        assert not sub.closed
        # Removal: every socket of the user goes, basic auth ones too.
        other = await http.ws_connect(url + "/ws/subscriber", headers={
            "X-Client-Type": "t", "X-Host-ID": "s3", **basic("pub", "pubpw")})  # fmt: skip
        users_file.write_text(
            "".join(line + "\n" for line in users_file.read_text().splitlines()
                    if not line.startswith("pub:"))
        )  # fmt: skip
        analyzer.reload_users()
        assert await closed_with(sub) == (1008, "user removed")
        assert await closed_with(other) == (1008, "user removed")


async def test_websocket_closes_when_its_token_expires(users_file, http):
    async with Analyzer(settings(users_file=users_file, token_ttl=1.0)) as analyzer:
        value = await token(http, analyzer)
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber",
            headers={"X-Client-Type": "t", "X-Host-ID": "s", "X-Auth-Token": value},
        )
        assert await closed_with(sub) == (1008, "token expired")
        assert len(analyzer.auth.sockets) == 0
