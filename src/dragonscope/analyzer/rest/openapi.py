"""``/api/openapi.json``: the REST API described for tools (OpenAPI 3.0)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dragonscope import __version__
from dragonscope.analyzer.responses import json_response

_STR = {"type": "string"}
_MS = {"type": "integer", "nullable": True, "description": "milliseconds since epoch"}
_ELEMENT = {
    "ID": _STR,
    "Metadata": {"type": "object"},
    "Host": _STR,
    "Origin": _STR,
    "CreatedAt": _MS,
    "UpdatedAt": _MS,
    "DeletedAt": _MS,
    "Revision": {"type": "integer"},
}
SCHEMAS: dict[str, Any] = {
    "Node": {"type": "object", "required": ["ID", "Metadata"], "properties": _ELEMENT},
    "Edge": {
        "type": "object",
        "required": ["ID", "Metadata", "Parent", "Child"],
        "properties": {**_ELEMENT, "Parent": _STR, "Child": _STR},
    },
    "Graph": {
        "type": "object",
        "properties": {
            "Nodes": {
                "type": "array",
                "nullable": True,
                "items": {"$ref": "#/components/schemas/Node"},
            },
            "Edges": {
                "type": "array",
                "nullable": True,
                "items": {"$ref": "#/components/schemas/Edge"},
            },
        },
    },
    "GremlinQuery": {"type": "object", "properties": {"GremlinQuery": _STR}},
    "NodeRule": {
        "type": "object",
        "properties": {
            "UUID": _STR,
            "Name": _STR,
            "Description": _STR,
            "Metadata": {"type": "object"},
            "Action": {"type": "string", "enum": ["create", "update"]},
            "Query": _STR,
        },
    },
    "EdgeRule": {
        "type": "object",
        "properties": {
            "UUID": _STR,
            "Name": _STR,
            "Description": _STR,
            "Src": _STR,
            "Dst": _STR,
            "Metadata": {"type": "object"},
        },
    },
    "Alert": {
        "type": "object",
        "properties": {
            "UUID": _STR,
            "Name": _STR,
            "Description": _STR,
            "Expression": _STR,
            "Action": _STR,
            "Trigger": _STR,
            "CreateTime": _STR,
        },
    },
    "JsonPatch": {"type": "array", "items": {"type": "object"}, "description": "RFC 6902"},
    "TraceRequest": {
        "type": "object",
        "required": ["from"],
        "properties": {
            "from": {**_STR, "description": "lport id or name, IP, IP@network, or 'external'"},
            "to": {**_STR, "description": "lport id or name, IP, floating IP, 'metadata'"},
            "proto": {"type": "string", "enum": ["tcp", "udp", "icmp", "icmp6", "arp", "dhcp"]},
            **{
                name: {"type": "integer"}
                for name in ("sport", "dport", "ttl", "vlan", "icmp_type", "icmp_code")
            },
            **{name: _STR for name in ("chassis", "eth_src", "eth_dst", "ip_src", "ip_dst")},
            "ct": {"type": "boolean", "description": "assume an established connection"},
            "reply": {"type": "boolean", "description": "also simulate the reply"},
            "apps": {**_STR, "description": "Dragonflow app set: a,b,c or +app/-app"},
            "patch": {"type": "object", "description": "what-if patch of NB objects"},
            "at": {**_MS, "description": "trace on the graph as it was at this time"},
        },
    },
    "TraceResult": {
        "type": "object",
        "properties": {
            "verdict": {
                "type": "string",
                "enum": ["delivered", "replied", "external", "dropped"],
            },
            "hops": {"type": "array", "items": {"type": "object"}},
            "drop": {"type": "object", "nullable": True},
            "final": {"type": "object"},
            "reply": {"type": "object", "nullable": True},
        },
    },
    "ReachMatrix": {
        "type": "object",
        "properties": {
            "tenant": {**_STR, "nullable": True},
            "tenant_name": {**_STR, "nullable": True},
            "network": {**_STR, "nullable": True},
            "proto": _STR,
            "dport": {"type": "integer", "nullable": True},
            "ports": {"type": "array", "items": {"type": "object"}},
            "rows": {
                "type": "array",
                "description": "rows[i][j]: port i to port j (null on the diagonal)",
                "items": {"type": "array", "items": {"type": "object", "nullable": True}},
            },
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": {"description": "invalid request; the body says why"},
    "401": {"description": "missing, invalid or expired credentials"},
    "405": {"description": "the user's role does not allow this"},
}


def _resource(name: str, schema: str, updatable: bool) -> dict[str, Any]:
    keyed = {"type": "object", "additionalProperties": _ref(schema)}
    item: dict[str, Any] = {
        "get": {
            "summary": f"one {name}",
            "responses": {"200": _json(_ref(schema)), "404": {"description": "not found"}},
        },
        "delete": {
            "summary": f"delete a {name}",
            "responses": {"200": {"description": "deleted"}, **_ERRORS},
        },
    }
    if updatable:
        item["patch"] = {
            "summary": f"JSON Patch a {name}'s metadata",
            "requestBody": {"content": {"application/json": {"schema": _ref("JsonPatch")}}},
            "responses": {
                "200": _json(_ref(schema)),
                "304": {"description": "unchanged"},
                **_ERRORS,
            },
        }
    return {
        f"/api/{name}": {
            "get": {"summary": f"all {name}s, keyed by ID", "responses": {"200": _json(keyed)}},
            "post": {
                "summary": f"create a {name}",
                "requestBody": {"content": {"application/json": {"schema": _ref(schema)}}},
                "responses": {"201": _json(_ref(schema), "created"), **_ERRORS},
            },
        },
        f"/api/{name}/{{id}}": item,
    }


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/topology": {
            "post": {
                "summary": "run a Gremlin query (Skydive dialect)",
                "requestBody": {"content": {"application/json": {"schema": _ref("GremlinQuery")}}},
                "responses": {"200": _json({}), "204": {"description": "empty query"}, **_ERRORS},
            },
            "get": {
                "summary": "the whole live graph",
                "parameters": [
                    {
                        "name": "projection",
                        "in": "query",
                        "description": "ui: the graph as the web UI draws it: nodes without"
                        " most of the raw NB and Neutron objects, times or revision; each edge"
                        " as [ID, parent, child, metadata], its ends by their index in Nodes",
                        "schema": {"type": "string", "enum": ["ui"]},
                    }
                ],
                "responses": {"200": _json(_ref("Graph")), **_ERRORS},
            },
        },
        "/api/changes": {
            "get": {
                "summary": "what was added, removed and changed between two times",
                "parameters": [
                    {"name": "from", "in": "query", "required": True, "schema": _STR},
                    {"name": "to", "in": "query", "schema": _STR},
                    {"name": "filter", "in": "query", "schema": _STR},
                ],
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            }
        },
        "/api/views": {
            "get": {
                "summary": "the predefined views: name, title, parameters, Gremlin template",
                "responses": {"200": _json({"type": "array"})},
            }
        },
        "/api/views/{name}": {
            "get": {
                "summary": "IDs of the nodes and edges in a view; its parameters by name",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": _STR},
                    {"name": "at", "in": "query", "schema": _MS},
                ],
                "responses": {
                    "200": _json({"type": "object"}),
                    "404": {"description": "no such view"},
                    **_ERRORS,
                },
            }
        },
        "/api/trace": {
            "post": {
                "summary": "simulate a packet through Dragonflow's pipeline",
                "requestBody": {"content": {"application/json": {"schema": _ref("TraceRequest")}}},
                "responses": {"200": _json(_ref("TraceResult")), **_ERRORS},
            }
        },
        "/api/trace/real": {
            "post": {
                "summary": "the simulated trace beside ofproto/trace on each chassis's switch, "
                "asked of its collector (admins only; rate-limited; no patch, no at)",
                "requestBody": {"content": {"application/json": {"schema": _ref("TraceRequest")}}},
                "responses": {
                    "200": _json({"type": "object"}),
                    **_ERRORS,
                    "403": {"description": "only admins may run real traces"},
                    "429": {"description": "too many real traces (see Retry-After)"},
                    "502": {"description": "a collector answered something unusable"},
                    "504": {"description": "the real trace did not finish in time"},
                },
            }
        },
        "/api/reach": {
            "get": {
                "summary": "port-by-port reachability matrix of a tenant or network",
                "parameters": [
                    {"name": "tenant", "in": "query", "schema": _STR},
                    {"name": "network", "in": "query", "schema": _STR},
                    {
                        "name": "proto",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["tcp", "udp", "icmp"]},
                    },
                    {"name": "dport", "in": "query", "schema": {"type": "integer"}},
                    {"name": "ct", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "apps", "in": "query", "schema": _STR},
                    {"name": "at", "in": "query", "schema": _MS},
                ],
                "responses": {"200": _json(_ref("ReachMatrix")), **_ERRORS},
            }
        },
        "/api/problems": {
            "get": {
                "summary": "every problem nb check finds in the NB behind the graph, "
                "with the node each one is about",
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/tenants": {
            "get": {
                "summary": "project names by project id, as configured (file or Keystone)",
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/rejections": {
            "get": {
                "summary": "recent rejected publisher messages",
                "parameters": [{"name": "origin", "in": "query", "schema": _STR}],
                "responses": {"200": _json({"type": "array"})},
            }
        },
        "/api/status": {
            "get": {
                "summary": "connected peers and graph size",
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api": {
            "get": {
                "summary": "host, version, service",
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/login": {
            "post": {
                "summary": "trade username/password (form) for the authtoken cookie",
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"username": _STR, "password": _STR},
                            }
                        }
                    }
                },
                "responses": {
                    "200": _json({"type": "object"}),
                    "401": {"description": "wrong credentials"},
                },
            }
        },
        "/logout": {
            "get": {"summary": "forget the token", "responses": {"302": {"description": "to /"}}}
        },
        "/metrics": {
            "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}
        },
        "/healthz": {
            "get": {"summary": "liveness", "responses": {"200": _json({"type": "object"})}}
        },
    }
    paths.update(_resource("node", "Node", True))
    paths.update(_resource("edge", "Edge", True))
    paths.update(_resource("noderule", "NodeRule", False))
    paths.update(_resource("edgerule", "EdgeRule", False))
    paths.update(_resource("alert", "Alert", False))
    paths.update(_skydive_compat())
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "dragonscope analyzer",
            "version": __version__,
            "description": "Skydive-compatible analyzer API, plus history and rejections.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": "authtoken"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }


def _skydive_compat() -> dict[str, Any]:
    """Resources Skydive's UIs ask for and this analyzer never holds (see skydive_compat)."""
    paths: dict[str, Any] = {
        "/api/": {
            "get": {
                "summary": "Skydive's trailing slash",
                "responses": {"301": {"description": "to /api"}},
            }
        }
    }
    for name in ("capture", "injectpacket", "workflow"):
        paths[f"/api/{name}"] = {
            "get": {
                "summary": f"no {name} is kept: always {{}}",
                "responses": {"200": _json({"type": "object"})},
            },
            "post": {
                "summary": f"refused: no {name} is kept",
                "responses": {"405": {"description": "Allow: GET"}},
            },
        }
        missing = {"responses": {"404": {"description": f"no such {name}"}}}
        paths[f"/api/{name}/{{id}}"] = {"get": missing, "patch": missing, "delete": missing}
    paths["/api/workflow/{id}/call"] = {
        "post": {"responses": {"404": {"description": "no such workflow"}}}
    }
    return paths


async def openapi(request: web.Request) -> web.Response:
    return json_response(document())


def mount(router: web.UrlDispatcher) -> None:
    router.add_get("/api/openapi.json", openapi)
