# ruff: noqa: E501
"""Realistic NB content, byte for byte as Dragonflow stores it, shared by the test suite.

``WORKED_EXAMPLE`` is a small two-tenant cloud as etcd (key, value) pairs: three
chassis, an external flat network, three tenant vxlan networks with DHCP ports,
a router with two interfaces and a gateway port, VM ports, a trunk child, a
floating IP and two security groups. It is consistent: ``check`` finds nothing.
``COUNTERS`` are its ``/unique_key/<table>`` values. ``MORE_EXAMPLES`` covers the
remaining tables and variants (vtep binding, unassociated floating IP, QoS, SFC,
BGP, runtime and control tables); their references point outside the worked
example. ``SAMPLES`` is one realistic object per table: table -> (id, value).
"""

from __future__ import annotations

WORKED_EXAMPLE: tuple[tuple[str, str], ...] = (
    (
        "/chassis/compute-1",
        '{"id": "compute-1", "ip": "192.168.100.11", "tunnel_types": ["vxlan", "geneve", "gre"]}',
    ),
    (
        "/chassis/compute-2",
        '{"id": "compute-2", "ip": "192.168.100.12", "tunnel_types": ["vxlan", "geneve", "gre"]}',
    ),
    (
        "/chassis/compute-3",
        '{"id": "compute-3", "ip": "192.168.100.13", "tunnel_types": ["vxlan", "geneve", "gre"]}',
    ),
    (
        "/service/7d7c4551-0f52-5df1-ba9c-ddd6f20cb8d1",
        '{"binary": "df-local-controller", "chassis": "compute-1", "id": "7d7c4551-0f52-5df1-ba9c-ddd6f20cb8d1", "last_seen_up": 1565700000.25}',
    ),
    (
        "/service/cd3ec764-8b81-597c-8441-a54b7f72bafc",
        '{"binary": "df-local-controller", "chassis": "compute-2", "id": "cd3ec764-8b81-597c-8441-a54b7f72bafc", "last_seen_up": 1565700000.5}',
    ),
    (
        "/service/2bd0bd3d-a456-530b-80af-34f6b8464638",
        '{"binary": "df-local-controller", "chassis": "compute-3", "id": "2bd0bd3d-a456-530b-80af-34f6b8464638", "last_seen_up": 1565700000.75}',
    ),
    (
        "/lswitch/1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad",
        '{"id": "1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad", "is_external": true, "mtu": 1500, "name": "public", "network_type": "flat", "physical_network": "public", "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b", "unique_key": 1, "version": 2}',
    ),
    (
        "/lsubnet/d7d71aca-3430-471b-aeb2-29a21f0a9570",
        '{"cidr": "172.24.4.0/24", "dns_nameservers": [], "enable_dhcp": false, "gateway_ip": "172.24.4.1", "host_routes": [], "id": "d7d71aca-3430-471b-aeb2-29a21f0a9570", "lswitch": "1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad", "name": "public-subnet", "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b", "version": 0}',
    ),
    (
        "/lswitch/72463273-de1f-4666-b0b4-0362d0eb738c",
        '{"id": "72463273-de1f-4666-b0b4-0362d0eb738c", "is_external": false, "mtu": 1450, "name": "web-net", "network_type": "vxlan", "segmentation_id": 1001, "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 2, "version": 2}',
    ),
    (
        "/lsubnet/9ff2abfe-6c20-49bb-bac7-bdca040882f9",
        '{"cidr": "10.10.1.0/24", "dns_nameservers": ["8.8.8.8"], "enable_dhcp": true, "gateway_ip": "10.10.1.1", "host_routes": [], "id": "9ff2abfe-6c20-49bb-bac7-bdca040882f9", "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "name": "web-subnet", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}',
    ),
    (
        "/lport/19e95ebd-0abd-415e-a4bd-9780f8ef9565",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "", "device_owner": "network:dhcp", "dhcp_params": {"opts": {}}, "enabled": true, "id": "19e95ebd-0abd-415e-a4bd-9780f8ef9565", "ips": ["10.10.1.2"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:d1:00:01"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 1, "version": 3}',
    ),
    (
        "/lswitch/96dc148c-b43d-4ce1-9000-c26f752c1e68",
        '{"id": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "is_external": false, "mtu": 1450, "name": "db-net", "network_type": "vxlan", "segmentation_id": 1002, "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 3, "version": 2}',
    ),
    (
        "/lsubnet/cbcaa143-9021-4d25-ba12-f6c9f2459be9",
        '{"cidr": "10.10.2.0/24", "dns_nameservers": [], "enable_dhcp": true, "gateway_ip": "10.10.2.1", "host_routes": [{"destination": "10.99.0.0/16", "nexthop": "10.10.2.254"}], "id": "cbcaa143-9021-4d25-ba12-f6c9f2459be9", "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "name": "db-subnet", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}',
    ),
    (
        "/lport/9476f710-ed5b-4d29-a61d-9987d786542d",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "", "device_owner": "network:dhcp", "dhcp_params": {"opts": {}}, "enabled": true, "id": "9476f710-ed5b-4d29-a61d-9987d786542d", "ips": ["10.10.2.2"], "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "macs": ["fa:16:3e:d1:00:02"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["cbcaa143-9021-4d25-ba12-f6c9f2459be9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 2, "version": 3}',
    ),
    (
        "/lswitch/2ecf0045-a383-42ee-9bf8-0eed40f57cff",
        '{"id": "2ecf0045-a383-42ee-9bf8-0eed40f57cff", "is_external": false, "mtu": 1450, "name": "b-net", "network_type": "vxlan", "segmentation_id": 1003, "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "unique_key": 4, "version": 2}',
    ),
    (
        "/lsubnet/1b23d164-8f7f-4628-af49-ea277eab527a",
        '{"cidr": "192.168.50.0/24", "dns_nameservers": [], "enable_dhcp": true, "gateway_ip": "192.168.50.1", "host_routes": [], "id": "1b23d164-8f7f-4628-af49-ea277eab527a", "lswitch": "2ecf0045-a383-42ee-9bf8-0eed40f57cff", "name": "b-subnet", "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "version": 0}',
    ),
    (
        "/lport/07127335-1502-4b52-89f3-bcee42de0c1d",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "", "device_owner": "network:dhcp", "dhcp_params": {"opts": {}}, "enabled": true, "id": "07127335-1502-4b52-89f3-bcee42de0c1d", "ips": ["192.168.50.2"], "lswitch": "2ecf0045-a383-42ee-9bf8-0eed40f57cff", "macs": ["fa:16:3e:d1:00:03"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["1b23d164-8f7f-4628-af49-ea277eab527a"], "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "unique_key": 3, "version": 3}',
    ),
    (
        "/secgroup/50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0",
        '{"id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "name": "app", "rules": [{"direction": "egress", "ethertype": "IPv4", "id": "a353963d-6bad-4dd5-9a12-4abe4a7eb2fb", "security_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}, {"direction": "egress", "ethertype": "IPv6", "id": "fcb1c254-8abc-4d71-ab58-da0c7f98217e", "security_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}, {"direction": "ingress", "ethertype": "IPv4", "id": "e13735ca-bf9b-4345-96b4-a85b5f6d08d9", "port_range_max": 80, "port_range_min": 80, "protocol": 6, "remote_ip_prefix": "0.0.0.0/0", "security_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}, {"direction": "ingress", "ethertype": "IPv4", "id": "554c73b6-1333-48c0-93a6-c7af3d66fa45", "port_range_max": 22, "port_range_min": 22, "protocol": 6, "remote_ip_prefix": "10.10.0.0/16", "security_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}, {"direction": "ingress", "ethertype": "IPv4", "id": "14551d7b-08e5-4cd2-adba-0d91f743f61f", "protocol": 1, "remote_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "security_group_id": "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 0}], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 1, "version": 6}',
    ),
    (
        "/secgroup/db73ccf5-dbb3-422c-88c4-c9661e8f3a0e",
        '{"id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "name": "default", "rules": [{"direction": "egress", "ethertype": "IPv4", "id": "e50ad351-6a30-4b8a-a6f3-26a9c1c725c6", "security_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "version": 0}, {"direction": "egress", "ethertype": "IPv6", "id": "94a9862a-3027-44a3-aa9d-fd9fcec5d9f9", "security_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "version": 0}, {"direction": "ingress", "ethertype": "IPv4", "id": "75200da0-6d67-4462-82fc-ffcb0bd54754", "remote_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "security_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "version": 0}, {"direction": "ingress", "ethertype": "IPv6", "id": "6f3d8778-52eb-46c3-9e4a-a5be7b4ac438", "remote_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "security_group_id": "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e", "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "version": 0}], "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "unique_key": 2, "version": 4}',
    ),
    (
        "/lport/2f5b26fa-0058-447c-a1d3-2dcdeddd9e0f",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "74c95604-0434-47f0-bee1-d0e16bfa53af", "device_owner": "network:router_gateway", "dhcp_params": {"opts": {}}, "enabled": true, "id": "2f5b26fa-0058-447c-a1d3-2dcdeddd9e0f", "ips": ["172.24.4.10"], "lswitch": "1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad", "macs": ["fa:16:3e:9a:00:01"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["d7d71aca-3430-471b-aeb2-29a21f0a9570"], "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b", "unique_key": 4, "version": 4}',
    ),
    (
        "/lport/fd7ca04c-67a9-478e-9e6a-fb71c900a2d1",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "74c95604-0434-47f0-bee1-d0e16bfa53af", "device_owner": "network:router_interface", "dhcp_params": {"opts": {}}, "enabled": true, "id": "fd7ca04c-67a9-478e-9e6a-fb71c900a2d1", "ips": ["10.10.1.1"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:5a:01:01"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 5, "version": 4}',
    ),
    (
        "/lport/424e1d26-cda2-491b-83c0-285f0428f2ea",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "74c95604-0434-47f0-bee1-d0e16bfa53af", "device_owner": "network:router_interface", "dhcp_params": {"opts": {}}, "enabled": true, "id": "424e1d26-cda2-491b-83c0-285f0428f2ea", "ips": ["10.10.2.1"], "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "macs": ["fa:16:3e:5a:02:01"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["cbcaa143-9021-4d25-ba12-f6c9f2459be9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 6, "version": 4}',
    ),
    (
        "/lrouter/74c95604-0434-47f0-bee1-d0e16bfa53af",
        '{"id": "74c95604-0434-47f0-bee1-d0e16bfa53af", "name": "acme-router", "ports": [{"id": "fd7ca04c-67a9-478e-9e6a-fb71c900a2d1", "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "mac": "fa:16:3e:5a:01:01", "network": "10.10.1.1/24", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 5}, {"id": "424e1d26-cda2-491b-83c0-285f0428f2ea", "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "mac": "fa:16:3e:5a:02:01", "network": "10.10.2.1/24", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 6}], "routes": [], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 1, "version": 7}',
    ),
    (
        "/lport/2dd2c80e-7071-408f-bd23-561d5753efad",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-1", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "fd63852e-998a-4ae7-a508-9ccd82262063", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "2dd2c80e-7071-408f-bd23-561d5753efad", "ips": ["10.10.1.11"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:11:00:01"], "name": "", "port_security_enabled": true, "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 7, "version": 5}',
    ),
    (
        "/lport/ae582a78-e6c3-4318-84cd-a7067260f82f",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-2", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "1e525768-6558-42f2-804b-4854d60b6dbd", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "ae582a78-e6c3-4318-84cd-a7067260f82f", "ips": ["10.10.1.12"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:11:00:02"], "name": "", "port_security_enabled": true, "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 8, "version": 5}',
    ),
    (
        "/lport/a51cb9a8-e064-499d-9333-85761028514e",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-3", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "1017705f-e688-4875-8d20-0bc9022b3129", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "a51cb9a8-e064-499d-9333-85761028514e", "ips": ["10.10.2.11"], "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "macs": ["fa:16:3e:22:00:01"], "name": "", "port_security_enabled": true, "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["cbcaa143-9021-4d25-ba12-f6c9f2459be9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 9, "version": 5}',
    ),
    (
        "/lport/4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-1", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "d5307541-1774-47b7-97a9-214e36cddb99", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead", "ips": ["10.10.1.13"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:33:00:01"], "name": "", "port_security_enabled": true, "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 10, "version": 5}',
    ),
    (
        "/lport/6455c194-c89c-4d18-b896-5b40bfc09e43",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "", "device_owner": "", "dhcp_params": {"opts": {}}, "enabled": true, "id": "6455c194-c89c-4d18-b896-5b40bfc09e43", "ips": ["10.10.2.13"], "lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68", "macs": ["fa:16:3e:33:00:01"], "name": "", "port_security_enabled": true, "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["cbcaa143-9021-4d25-ba12-f6c9f2459be9"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 11, "version": 3}',
    ),
    (
        "/lport/aecd5e5b-ecaf-45db-8d79-92512200b178",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-2", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "fbca3367-61d8-4e03-bb43-99a0253e9c65", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "aecd5e5b-ecaf-45db-8d79-92512200b178", "ips": ["192.168.50.11"], "lswitch": "2ecf0045-a383-42ee-9bf8-0eed40f57cff", "macs": ["fa:16:3e:44:00:01"], "name": "", "port_security_enabled": true, "security_groups": ["db73ccf5-dbb3-422c-88c4-c9661e8f3a0e"], "subnets": ["1b23d164-8f7f-4628-af49-ea277eab527a"], "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "unique_key": 12, "version": 5}',
    ),
    (
        "/lport/6279f97b-1a5b-4a20-ab7b-6764f6c12816",
        '{"allowed_address_pairs": [], "binding": {"chassis": "compute-3", "type": "chassis"}, "binding_vnic_type": "normal", "device_id": "4a6b4f14-a861-4464-95de-072a63572157", "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": true, "id": "6279f97b-1a5b-4a20-ab7b-6764f6c12816", "ips": ["192.168.50.12"], "lswitch": "2ecf0045-a383-42ee-9bf8-0eed40f57cff", "macs": ["fa:16:3e:44:00:02"], "name": "", "port_security_enabled": true, "security_groups": ["db73ccf5-dbb3-422c-88c4-c9661e8f3a0e"], "subnets": ["1b23d164-8f7f-4628-af49-ea277eab527a"], "topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "unique_key": 13, "version": 5}',
    ),
    (
        "/child_port_segmentation/da48650b-4236-5a63-8a33-00dd483e22c1",
        '{"id": "da48650b-4236-5a63-8a33-00dd483e22c1", "parent": "4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead", "port": "6455c194-c89c-4d18-b896-5b40bfc09e43", "segmentation_id": 101, "segmentation_type": "vlan", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/lport/a7705c68-7965-45b8-857a-afe12eb90507",
        '{"allowed_address_pairs": [], "binding_vnic_type": "normal", "device_id": "aa657f62-d577-4a27-af95-efb43e2b7d3e", "device_owner": "network:floatingip", "dhcp_params": {"opts": {}}, "enabled": true, "id": "a7705c68-7965-45b8-857a-afe12eb90507", "ips": ["172.24.4.20"], "lswitch": "1eeb37b0-e5cf-43e3-9a6c-1468dafac6ad", "macs": ["fa:16:3e:f1:00:01"], "name": "", "port_security_enabled": true, "security_groups": [], "subnets": ["d7d71aca-3430-471b-aeb2-29a21f0a9570"], "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b", "unique_key": 14, "version": 3}',
    ),
    (
        "/floatingip/aa657f62-d577-4a27-af95-efb43e2b7d3e",
        '{"fixed_ip_address": "10.10.1.11", "floating_ip_address": "172.24.4.20", "floating_lport": "a7705c68-7965-45b8-857a-afe12eb90507", "id": "aa657f62-d577-4a27-af95-efb43e2b7d3e", "lport": "2dd2c80e-7071-408f-bd23-561d5753efad", "lrouter": "74c95604-0434-47f0-bee1-d0e16bfa53af", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 2}',
    ),
)

COUNTERS: dict[str, int] = {
    "lswitch": 4,
    "lport": 14,
    "lrouter": 1,
    "secgroup": 2,
}

MORE_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "/lport/b0183b84-bb8a-4f69-aea0-493b17c1c835",
        '{"allowed_address_pairs": [{"ip_address": "10.10.1.100", "mac_address": "fa:16:3e:77:00:01"}], "binding": {"type": "vtep", "vtep_address": "192.168.100.50"}, "binding_vnic_type": "normal", "device_id": "8c1a7ecf-f1ee-4b5b-b9f5-f0e13976c7ec", "device_owner": "compute:nova", "dhcp_params": {"opts": {"3": "10.10.1.254", "121": "10.99.0.0/16,10.10.1.254"}, "siaddr": "10.10.1.5"}, "enabled": true, "id": "b0183b84-bb8a-4f69-aea0-493b17c1c835", "ips": ["10.10.1.50", "2001:db8:10:1::50"], "lswitch": "72463273-de1f-4666-b0b4-0362d0eb738c", "macs": ["fa:16:3e:77:00:01"], "name": "vip-port", "port_security_enabled": true, "qos_policy": "abfb6e69-60a4-453b-93cc-aa2303221f71", "security_groups": ["50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0"], "subnets": ["9ff2abfe-6c20-49bb-bac7-bdca040882f9", "1213a4a1-9ad5-4e4f-ab37-a59583c0badb"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 21, "version": 2}',
    ),
    (
        "/floatingip/f6043f4a-9a69-4057-a33f-0d908fcf2132",
        '{"floating_ip_address": "172.24.4.21", "floating_lport": "beb5a4de-1934-43e0-a75e-b81c27df8ef2", "id": "f6043f4a-9a69-4057-a33f-0d908fcf2132", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 1}',
    ),
    (
        "/qospolicy/abfb6e69-60a4-453b-93cc-aa2303221f71",
        '{"id": "abfb6e69-60a4-453b-93cc-aa2303221f71", "name": "silver", "rules": [{"direction": "egress", "id": "796cb1b2-c00a-4295-8904-42e6827d4891", "max_burst_kbps": 1000, "max_kbps": 10000, "type": "bandwidth_limit"}, {"dscp_mark": 26, "id": "d1eb089a-d6c6-44c2-8096-ffd326cb1279", "type": "dscp_marking"}], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "version": 3}',
    ),
    (
        "/child_port_segmentation/9bc86663-9567-592b-bd6f-d76d3dafc981",
        '{"id": "9bc86663-9567-592b-bd6f-d76d3dafc981", "parent": "b0183b84-bb8a-4f69-aea0-493b17c1c835", "port": "2f8f6487-fec3-4a1c-a8fa-fa93fee7ff3d", "segmentation_type": "macvlan", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/sfc_portpair/930a443e-0bc8-434f-8fdb-a1201cf2e2a4",
        '{"correlation_mechanism": "none", "egress_port": "09c0612f-9b51-4eac-a510-2946e6d3140b", "id": "930a443e-0bc8-434f-8fdb-a1201cf2e2a4", "ingress_port": "9eae6436-44ee-4e4b-98f6-322b64475d3a", "name": "fw-pp", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/sfc_portpairgroup/0c608b45-f6d9-465b-95ad-697341c8e5c6",
        '{"id": "0c608b45-f6d9-465b-95ad-697341c8e5c6", "name": "fw-group", "port_pairs": ["930a443e-0bc8-434f-8fdb-a1201cf2e2a4"], "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/sfc_flowclassifier/cb107ef9-1959-4a96-b6ad-98019a2bab32",
        '{"dest_cidr": "10.10.2.0/24", "dest_transport_ports": [80, 8080], "ether_type": "IPv4", "id": "cb107ef9-1959-4a96-b6ad-98019a2bab32", "name": "web-http", "protocol": "tcp", "source_cidr": "10.10.1.0/24", "source_port": "2dd2c80e-7071-408f-bd23-561d5753efad", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "unique_key": 1}',
    ),
    (
        "/sfc_portchain/3a4acb76-858f-4689-bbe3-c78ead002bf0",
        '{"chain_id": 1, "flow_classifiers": ["cb107ef9-1959-4a96-b6ad-98019a2bab32"], "id": "3a4acb76-858f-4689-bbe3-c78ead002bf0", "name": "web-chain", "port_pair_groups": ["0c608b45-f6d9-465b-95ad-697341c8e5c6"], "protocol": "mpls", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/bgp_peer/698750a0-9b93-4337-b46f-0973448167f3",
        '{"auth_type": "md5", "id": "698750a0-9b93-4337-b46f-0973448167f3", "name": "upstream-rtr", "password": "REDACTED-SECRET", "peer_ip": "172.24.4.1", "remote_as": 65001, "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b"}',
    ),
    (
        "/bgp_speaker/864e68c9-bc22-4aff-a4ec-43967c0449bd",
        '{"host_routes": [{"destination": "172.24.4.20/32", "nexthop": "192.168.100.11"}], "id": "864e68c9-bc22-4aff-a4ec-43967c0449bd", "ip_version": 4, "local_as": 65000, "name": "spk", "peers": ["698750a0-9b93-4337-b46f-0973448167f3"], "prefix_routes": [{"destination": "10.10.1.0/24", "nexthop": "172.24.4.10"}], "topic": "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b"}',
    ),
    (
        "/activeport/72463273-de1f-4666-b0b4-0362d0eb738c10.10.1.100",
        '{"detected_lport": "ae582a78-e6c3-4318-84cd-a7067260f82f", "detected_mac": "fa:16:3e:11:00:02", "id": "72463273-de1f-4666-b0b4-0362d0eb738c10.10.1.100", "ip": "10.10.1.100", "network": "72463273-de1f-4666-b0b4-0362d0eb738c", "topic": "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"}',
    ),
    (
        "/migration/2dd2c80e-7071-408f-bd23-561d5753efad",
        '{"dest_chassis": "compute-2", "id": "2dd2c80e-7071-408f-bd23-561d5753efad", "status": "dest_plug"}',
    ),
    (
        "/publisher/45aee87f-79de-5c18-81a5-11717aeb5641",
        '{"id": "45aee87f-79de-5c18-81a5-11717aeb5641", "last_activity_timestamp": 1565700012.73, "uri": "tcp://192.168.100.5:8866"}',
    ),
    (
        "/listener/controller-1",
        '{"id": "controller-1", "ppid": 2817, "timestamp": 1565700020.41}',
    ),
    # switch_port lives only in a controller's memory; this is how it would serialize.
    (
        "/switch_port/5f0c8a2e-3b1d-4e7a-9c6f-2d8b4a1e7c35",
        '{"admin_state": "up", "attached_mac": "fa:16:3e:11:00:01", "id": "5f0c8a2e-3b1d-4e7a-9c6f-2d8b4a1e7c35", "lport": "2dd2c80e-7071-408f-bd23-561d5753efad", "mac_in_use": "fe:16:3e:11:00:01", "name": "tap2dd2c80e-70", "port_num": 7, "type": "compute"}',
    ),
)


def split_key(key: str) -> tuple[str, str]:
    """``/<table>/<id>`` -> (table, id); ids may contain dots (activeport) but no slash."""
    _, table, id_ = key.split("/", 2)
    return table, id_


def stored_objects() -> list[tuple[str, str, str]]:
    """(table, id, value) of every JSON object above."""
    return [(*split_key(key), value) for key, value in WORKED_EXAMPLE + MORE_EXAMPLES]


# The richest example of each table.
_PREFERRED = {"lport": "b0183b84-bb8a-4f69-aea0-493b17c1c835"}


def _pick() -> dict[str, tuple[str, str]]:
    chosen: dict[str, tuple[str, str]] = {}
    for table, id_, value in stored_objects():
        if table not in chosen or _PREFERRED.get(table) == id_:
            chosen[table] = (id_, value)
    return chosen


SAMPLES: dict[str, tuple[str, str]] = _pick()
