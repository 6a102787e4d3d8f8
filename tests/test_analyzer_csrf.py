"""No cross-site writes and no DNS rebinding: foreign Origins, unknown Host names and
bodies a browser sends without a preflight are refused; the admin's cookie used by a
page of another origin (another loopback port) in a real Chromium writes nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest

from analyzer_support import ThreadedAnalyzer, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer
from dragonscope.analyzer.users import add_user

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def analyzer():
    async with Analyzer(settings(allowed_origins=("https://ui.example",))) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def post_node(http, analyzer, node_id, **kwargs):
    async with http.post(analyzer.url + "/api/node", **kwargs) as reply:
        return reply.status, await reply.text()


async def test_write_bodies_a_browser_sends_without_preflight_are_refused(analyzer, http):
    body = json.dumps(node("n"))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        headers = {"Content-Type": f"{content_type}; charset=utf-8"}
        status, text = await post_node(http, analyzer, "n", data=body, headers=headers)
        assert (status, text) == (415, "send the body as application/json\n"), content_type
    untyped = {"data": body.encode(), "skip_auto_headers": {"Content-Type"}}
    assert (await post_node(http, analyzer, "n", **untyped))[0] == 415
    assert (await post_node(http, analyzer, "n", json=node("n")))[0] == 201
    assert [n.id for n in analyzer.graph.nodes()] == ["n"]
    # A query changes nothing: scripts may post it with any type (urllib's form type).
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    query = json.dumps({"GremlinQuery": "G.V().Count()"})
    async with http.post(analyzer.url + "/api/topology", data=query, headers=form) as reply:
        assert reply.status == 200 and await reply.json() == 1


async def test_foreign_origins_may_not_write_nor_open_websockets(analyzer, http):
    own = analyzer.url
    for origin in (
        "http://127.0.0.1:1",
        "http://evil.example",
        "null",
        "http://localhost.evil.example",
    ):
        status, _ = await post_node(http, analyzer, "x", json=node("x"), headers={"Origin": origin})
        assert status == 403, origin
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(
                own + "/ws/publisher", headers={**publisher_headers("evil"), "Origin": origin}
            )
        assert refused.value.status == 403
    assert analyzer.graph.node_count() == 0
    # The analyzer's own pages, configured origins, and clients without Origin may.
    assert (await post_node(http, analyzer, "a", json=node("a"), headers={"Origin": own}))[0] == 201
    allowed = {"Origin": "https://ui.example"}
    assert (await post_node(http, analyzer, "b", json=node("b"), headers=allowed))[0] == 201
    assert (await post_node(http, analyzer, "c", json=node("c")))[0] == 201
    ws = await http.ws_connect(
        own + "/ws/subscriber", headers={"X-Client-Type": "t", "Origin": own}
    )
    await ws.close()
    # Reads stay open to any page, as with Skydive (no credentials with the wildcard).
    async with http.get(own + "/api/node", headers={"Origin": "http://evil.example"}) as reply:
        assert reply.status == 200 and reply.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in reply.headers


async def test_unknown_host_names_are_refused(http, tmp_path):
    port_url = "http://127.0.0.1:{}"
    async with Analyzer(settings(allowed_hosts=("analyzer.example",))) as analyzer:
        port = analyzer.port
        for host, expected in (
            (f"rebind.attacker.example:{port}", 421),
            (f"127.0.0.1:{port}", 200),
            (f"[::1]:{port}", 200),
            (f"localhost:{port}", 200),
            (f"analyzer.example:{port}", 200),
        ):
            async with http.get(port_url.format(port) + "/api/status", headers={"Host": host}) as r:
                assert r.status == expected, host
    async with Analyzer(settings(allowed_hosts=("*",))) as analyzer:
        url = port_url.format(analyzer.port)
        async with http.get(url + "/api/status", headers={"Host": "anything.example"}) as r:
            assert r.status == 200


async def test_login_never_grants_credentials_to_foreign_origins(tmp_path, http):
    users = tmp_path / "users"
    add_user(users, "root", "admin", "rootpw")
    form = {"username": "root", "password": "rootpw"}
    async with Analyzer(
        settings(users_file=users, allowed_origins=("https://ui.example",))
    ) as analyzer:
        url = analyzer.url + "/login"
        async with http.post(url, data=form, headers={"Origin": "http://evil.example"}) as r:
            assert r.status == 403 and "Set-Cookie" not in r.headers
        async with http.post(url, data=form, headers={"Origin": "https://ui.example"}) as r:
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example"
            cookies = r.headers.getall("Set-Cookie")
        token = next(c for c in cookies if c.startswith("authtoken="))
        # SameSite=Strict keeps it off cross-site requests; it is not HttpOnly, as Skydive
        # sets it (its UI logs out by deleting it; see test_analyzer_skydive_ui.py)
        assert "SameSite=Strict" in token
        permissions = next(c for c in cookies if c.startswith("permissions="))
        assert '"' not in permissions and "SameSite=Strict" in permissions


ATTACK_PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink">
  <input name='{"ID":"csrf-form","Host":"","Metadata":{"Name":"f","Type":"fabric"},"x":"'
         value='"}'>
</form>
<script>
const target = new URLSearchParams(location.search).get("target");
const body = (id) => JSON.stringify({ID: id, Host: "", Metadata: {Name: id, Type: "fabric"}});
const results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "blocked: " + e.name; }
}
(async () => {
  await attempt("text", async () => (await fetch(target + "/api/node", {method: "POST",
    mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"},
    body: body("csrf-text")})).type);
  await attempt("untyped", async () => (await fetch(target + "/api/node", {method: "POST",
    mode: "no-cors", credentials: "include", body: new Blob([body("csrf-blob")])})).type);
  await attempt("json", async () => (await fetch(target + "/api/node", {method: "POST",
    credentials: "include", headers: {"Content-Type": "application/json"},
    body: body("csrf-json")})).status);
  await attempt("websocket", () => new Promise((resolve) => {
    const ws = new WebSocket(target.replace("http", "ws") +
      "/ws/publisher?x-client-type=evil&x-host-id=evil");
    ws.onopen = () => ws.send(JSON.stringify({Namespace: "Graph", Type: "NodeAdded",
      UUID: "", Status: 200, Obj: JSON.parse(body("csrf-ws"))}));
    ws.onclose = (e) => resolve("closed " + e.code);
  }));
  const form = document.getElementById("form");
  form.action = target + "/api/node";
  form.submit();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  window.attackResults = results;
})();
</script></body></html>"""


@pytest.fixture
def attacker_site() -> Iterator[str]:
    """A page of another origin: the same loopback address, another port."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = ATTACK_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.browser
def test_page_of_another_origin_cannot_write_with_the_admins_cookie(tmp_path, attacker_site):
    from playwright.sync_api import sync_playwright

    from ui_support import CHROMIUM, CHROMIUM_ARGS

    users = tmp_path / "users"
    add_user(users, "root", "admin", "rootpw")
    threaded = ThreadedAnalyzer(users_file=users)
    with threaded as analyzer, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(analyzer.url + "/")
            page.fill("#login-user", "root")
            page.fill("#login-password", "rootpw")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#login", state="hidden", timeout=15000)
            # The cookie does write from the analyzer's own page...
            own = page.evaluate(
                """async () => (await fetch("/api/node", {method: "POST",
                credentials: "same-origin", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({ID: "own", Host: "", Metadata: {Name: "own",
                Type: "fabric"}})})).status"""
            )
            assert own == 201
            # ... and from the other origin, with the same cookie, nothing is written.
            page.goto(f"{attacker_site}/?target={analyzer.url}")
            page.wait_for_function("window.attackResults", timeout=30000)
            results = page.evaluate("window.attackResults")
        finally:
            browser.close()
        ids = threaded.call(lambda: sorted(n.id for n in analyzer.graph.nodes()))
    assert ids == ["own"], f"written cross-origin: {ids}; the page saw {results}"
    assert results["json"].startswith("blocked") and results["websocket"] == "closed 1006"
