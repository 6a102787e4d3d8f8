"""What Skydive's own web UIs ask of an analyzer, answered as Skydive answers it.

Each case is a behaviour of Skydive's analyzer that its UIs rely on: the login
cookies (graffiti/http/auth.go), the generic resource list (graffiti/api/server/
server.go), the trailing-slash redirect of its router (StrictSlash), the flow
grouping steps, and ui/server.go serving a UI build with its base URL.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest

from analyzer_support import settings
from dragonscope.analyzer import Analyzer, AnalyzerError
from dragonscope.analyzer.users import add_user

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("skydive-ui") / "users"
    add_user(path, "root", "admin", "rootpw")
    add_user(path, "ro", "reader", "ropw")
    return path


@pytest.fixture
def ui_build(tmp_path: Path) -> Path:
    """A UI build laid out as the npm package ships it (the page and bundle under dist/)."""
    dist = tmp_path / "skydive-ui" / "dist"
    (dist / "dist").mkdir(parents=True)
    (dist / "assets").mkdir()
    (dist / "index.html").write_text(
        '<!doctype html><html><head><script>var baseURL = "<< .BaseURL >>";</script>'
        '<script defer="defer" src="./dist/bundle.js"></script></head><body></body></html>'
    )
    (dist / "dist" / "bundle.js").write_text("window.loaded = true;\n")
    (dist / "assets" / "config.js").write_text("config = {}\n")
    return tmp_path / "skydive-ui"


@pytest.fixture
async def analyzer(users_file, ui_build):
    async with Analyzer(settings(users_file=users_file, skydive_ui=ui_build)) as running:
        yield running


def jar_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(http: aiohttp.ClientSession, analyzer: Analyzer, user: str, password: str):
    return await http.post(analyzer.url + "/login", data={"username": user, "password": password})


def set_cookies(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The raw ``Set-Cookie`` headers by cookie name, as a browser receives them."""
    return {h.split("=", 1)[0]: h for h in response.headers.getall("Set-Cookie", [])}


async def test_permissions_cookie_is_sent_unquoted_and_decodes_with_atob(analyzer):
    padded = 0
    for user, password in (("ro", "ropw"), ("root", "rootpw")):
        async with jar_session() as http:
            response = await login(http, analyzer, user, password)
            assert response.status == 200
            header = set_cookies(response)["permissions"]
            value = header.split(";", 1)[0].split("=", 1)[1]
            assert '"' not in value
            padded += value.endswith("=")
            permissions = json.loads(base64.b64decode(value, validate=True))
            assert permissions == (await response.json())["Permissions"]
            topology_read = {"Object": "topology", "Action": "read", "Allowed": True}
            assert topology_read in permissions
    assert padded  # the case a cookie library quotes


async def test_logout_from_the_ui_ends_the_session(analyzer):
    """Skydive's authtoken cookie is readable by scripts: its UI logs out by deleting it,
    after which the API refuses the browser. /logout also revokes the token itself."""
    async with jar_session() as http:
        response = await login(http, analyzer, "root", "rootpw")
        token = (await response.json())["Token"]
        header = set_cookies(response)["authtoken"]
        assert header.startswith(f"authtoken={token};") and "httponly" not in header.lower()
        assert "Path=/" in header
        assert (await http.get(analyzer.url + "/api/status")).status == 200
        http.cookie_jar.clear(lambda cookie: cookie.key == "authtoken")  # the UI's Logout
        assert (await http.get(analyzer.url + "/api/status")).status == 401
        by_token = {"X-Auth-Token": token}
        assert (await http.get(analyzer.url + "/api/status", headers=by_token)).status == 200
        await http.post(analyzer.url + "/logout", headers=by_token, allow_redirects=False)
        assert (await http.get(analyzer.url + "/api/status", headers=by_token)).status == 401


@pytest.mark.parametrize(
    ("name", "title"),
    [("capture", "Capture"), ("injectpacket", "Injectpacket"), ("workflow", "Workflow")],
)
async def test_resources_this_analyzer_has_none_of(analyzer, name, title):
    async with jar_session() as http:
        assert (await http.get(f"{analyzer.url}/api/{name}")).status == 401
        await login(http, analyzer, "ro", "ropw")
        response = await http.get(f"{analyzer.url}/api/{name}")
        assert response.status == 200 and response.content_type == "application/json"
        assert await response.json() == {}
        response = await http.get(f"{analyzer.url}/api/{name}/abc")
        assert response.status == 404 and await response.text() == f"{title} 'abc' not found\n"
        # A reader may not change anything (Skydive's RBAC answer); an admin is told why not.
        assert (await http.post(f"{analyzer.url}/api/{name}", json={})).status == 405
    async with jar_session() as http:
        await login(http, analyzer, "root", "rootpw")
        response = await http.post(f"{analyzer.url}/api/{name}", json={"GremlinQuery": "G.V()"})
        assert response.status == 405 and response.headers["Allow"] == "GET"
        assert "Dragonflow" in await response.text()
        assert (await http.delete(f"{analyzer.url}/api/{name}/abc")).status == 404
        assert await analyzer_graph_unchanged(http, analyzer)


async def analyzer_graph_unchanged(http: aiohttp.ClientSession, analyzer: Analyzer) -> bool:
    response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": "G.V()"})
    return response.status == 200 and await response.json() == []


async def test_api_with_a_trailing_slash_redirects_as_skydive(analyzer):
    async with jar_session() as http:
        await login(http, analyzer, "ro", "ropw")
        response = await http.get(analyzer.url + "/api/", allow_redirects=False)
        assert response.status == 301 and response.headers["Location"] == "/api"
        response = await http.get(analyzer.url + "/api/")
        assert response.status == 200
        assert (await response.json())["Service"] == "analyzer"


async def test_flow_grouping_steps_of_the_legacy_ui(analyzer):
    query = (
        'G.Flows().Has("NodeTID", Within("a", "b"), "Metric.RTT", NE(0))'
        '.Sort().Limit(1000).Group("TrackingID").MoreThan(1)'
    )
    async with jar_session() as http:
        await login(http, analyzer, "ro", "ropw")
        response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": query})
        assert response.status == 200 and await response.json() == []


async def test_skydive_ui_build_is_served_at_skydive(analyzer):
    async with aiohttp.ClientSession() as http:
        response = await http.get(analyzer.url + "/skydive", allow_redirects=False)
        assert response.status == 301 and response.headers["Location"] == "/skydive/"
        for route in ("/skydive/", "/skydive/login"):
            response = await http.get(analyzer.url + route)
            page = await response.text()
            assert response.status == 200 and response.content_type == "text/html"
            assert 'var baseURL = "/skydive/"' in page and "<< .BaseURL >>" not in page
            # Our configuration, then the wiring that hands it over, both run before the UI's
            # deferred bundle.
            config, wiring = page.index("skydive-config.js"), page.index("skydive-wiring.js")
            assert config < wiring < page.index("</head>")
        response = await http.get(analyzer.url + "/skydive/dist/bundle.js")
        assert response.status == 200 and await response.text() == "window.loaded = true;\n"
        response = await http.get(analyzer.url + "/static/js/skydive-wiring.js")
        assert response.status == 200 and "/logout" in await response.text()
        # In the UI's ?config= format too: a script whose value is the configuration.
        response = await http.get(analyzer.url + "/static/js/skydive-config.js")
        assert response.status == 200 and response.content_type.endswith("/javascript")
        assert (await response.text()).count("window.dragonscopeSkydiveConfig = ") == 1
        for missing in ("/skydive/assets/nope.png", "/skydive/..%2f..%2fusers"):
            assert (await http.get(analyzer.url + missing)).status == 404


async def test_skydive_ui_option_needs_a_build(tmp_path):
    with pytest.raises(AnalyzerError, match=r"no index\.html"):
        Analyzer(settings(skydive_ui=tmp_path))
