"""The realistic sample cloud the topology tests look at.

It is the stored NB content of ``nb_samples`` (a two-tenant cloud plus one
object of every other table, some of whose references point at objects that do
not exist) parsed by the real parser, plus a few objects that make relations
testable: a publisher running on compute-1, a BGP peer with a distinctive
password, and a port whose security group was deleted.
"""

from __future__ import annotations

import json

from dragonscope.nb import schema
from dragonscope.nb.model import NbObject, Snapshot
from nb_samples import stored_objects

ACME = "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"
ADMIN = "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b"
PUBLIC_NET = "1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad"
WEB_NET = "72463273-de1f-4666-b0b4-0362d0eb738c"
DB_NET = "96dc148c-b43d-4ce1-9000-c26f752c1e68"
B_NET = "2ecf0045-a383-42ee-9bf8-0eed40f57cff"
WEB_SUBNET = "9ff2abfe-6c20-49bb-bac7-bdca040882f9"
ROUTER = "74c95604-0434-47f0-bee1-d0e16bfa53af"
GATEWAY_PORT = "2f5b26fa-0058-447c-a1d3-2dcdeddd9e0f"
ROUTER_IF_WEB = "fd7ca04c-67a9-478e-9e6a-fb71c900a2d1"
ROUTER_IF_DB = "424e1d26-cda2-491b-83c0-285f0428f2ea"
WEB_1 = "2dd2c80e-7071-408f-bd23-561d5753efad"  # compute-1, has the FIP
WEB_2 = "ae582a78-e6c3-4318-84cd-a7067260f82f"  # compute-2
DB_1 = "a51cb9a8-e064-499d-9333-85761028514e"  # compute-3
APP_1 = "4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead"  # compute-1, trunk parent
TRUNK_CHILD = "6455c194-c89c-4d18-b896-5b40bfc09e43"  # db-net, VLAN 101, unbound
B_1 = "aecd5e5b-ecaf-45db-8d79-92512200b178"  # compute-2
B_2 = "6279f97b-1a5b-4a20-ab7b-6764f6c12816"  # compute-3
FIP_PORT = "a7705c68-7965-45b8-857a-afe12eb90507"
FIP = "aa657f62-d577-4a27-af95-efb43e2b7d3e"
DHCP_WEB = "19e95ebd-0abd-415e-a4bd-9780f8ef9565"
DHCP_DB = "9476f710-ed5b-4d29-a61d-9987d786542d"
DHCP_B = "07127335-1502-4b52-89f3-bcee42de0c1d"
CPS = "da48650b-4236-5a63-8a33-00dd483e22c1"
SG_APP = "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"
SG_DEFAULT_B = "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e"
BGP_PEER = "698750a0-9b93-4337-b46f-0973448167f3"
BGP_SPEAKER = "864e68c9-bc22-4aff-a4ec-43967c0449bd"
PEER_PASSWORD = "md5-Xq7!peer-secret-4242"
LOCAL_PUBLISHER = "0b4e1e52-4f0d-5c39-8a6e-2f3d1c0b9a87"
ORPHAN_PORT = "c3f1a9d2-6b7e-4d15-8f20-9a4b3c2d1e0f"
DELETED_SG = "e7d6c5b4-a392-4817-b6c5-d4e3f2a1b0c9"
SERVICE_COMPUTE_1 = "7d7c4551-0f52-5df1-ba9c-ddd6f20cb8d1"

EXTRA: tuple[tuple[str, str, dict], ...] = (
    (
        "publisher",
        LOCAL_PUBLISHER,
        {
            "id": LOCAL_PUBLISHER,
            "last_activity_timestamp": 1565700013.5,
            "uri": "tcp://192.168.100.11:8866",
        },
    ),
    (
        "lport",
        ORPHAN_PORT,
        {
            "allowed_address_pairs": [],
            "binding": {"chassis": "compute-2", "type": "chassis"},
            "binding_vnic_type": "normal",
            "device_id": "6a1f0e2d-3c4b-4a59-8e7f-1d2c3b4a5968",
            "device_owner": "compute:nova",
            "dhcp_params": {"opts": {}},
            "enabled": False,
            "id": ORPHAN_PORT,
            "ips": ["192.168.50.13"],
            "lswitch": B_NET,
            "macs": ["fa:16:3e:44:00:03"],
            "name": "b-3",
            "port_security_enabled": True,
            "security_groups": [DELETED_SG],
            "subnets": ["1b23d164-8f7f-4628-af49-ea277eab527a"],
            "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c",
            "unique_key": 15,
            "version": 2,
        },
    ),
)


def cloud() -> Snapshot:
    """A fresh snapshot of the sample cloud (objects parsed as the collector would)."""
    snapshot: Snapshot = {}
    for table, object_id, value in stored_objects():
        data = json.loads(value)
        if table == "bgp_peer":
            data["password"] = PEER_PASSWORD
        snapshot[(table, object_id)] = schema.parse(table, object_id, data)
    for table, object_id, data in EXTRA:
        snapshot[(table, object_id)] = schema.parse(table, object_id, dict(data))
    return snapshot


def obj(table: str, object_id: str, data: dict) -> NbObject:
    return schema.parse(table, object_id, data)
