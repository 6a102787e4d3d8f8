"""Problems that only show across objects: what one object alone cannot tell.

Dragonflow writes related objects one after the other with no transaction, so
a reader sees transient dangling references; these are reported, never fatal.
The checks take the table declarations as an argument so that this module does
not depend on ``nb/schema.py`` (which re-exports ``check`` built on it).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dragonscope.nb.fields import Table
from dragonscope.nb.model import NbObject, Problem
from dragonscope.nb.problems import (
    DANGLING_REFERENCE,
    DUPLICATE_ADDRESS,
    DUPLICATE_ID,
    DUPLICATE_KEY,
    INCONSISTENT,
    describe,
    quote,
)
from dragonscope.nb.tables import (
    CHASSIS,
    CHILD_PORT_SEGMENTATION,
    FLOATINGIP,
    LPORT,
    LROUTER,
    LSUBNET,
    LSWITCH,
)

Index = dict[tuple[str, str], NbObject]
ByTable = dict[str, list[NbObject]]


def find_problems(
    objects: Mapping[tuple[str, str], NbObject] | Iterable[NbObject],
    tables: Mapping[str, Table],
) -> list[Problem]:
    """Every cross-object problem, sorted by table, id and field."""
    problems: list[Problem] = []
    if isinstance(objects, Mapping):
        index: Index = dict(objects)
    else:
        index = _index_reporting_duplicates(objects, problems)
    for obj in index.values():
        table = tables.get(obj.table)
        if table is None or table.lingers:
            continue
        problems.extend(_dangling(obj, table, index, tables))
    problems.extend(_duplicate_unique_keys(index, tables))
    by_table: dict[str, list[NbObject]] = {}
    for obj in index.values():
        by_table.setdefault(obj.table, []).append(obj)
    for consistency in _CONSISTENCY:
        problems.extend(consistency(index, by_table))
    problems.sort(key=lambda p: (p.table, p.id, p.field or "", p.kind, p.message))
    return problems


def _index_reporting_duplicates(objects: Iterable[NbObject], problems: list[Problem]) -> Index:
    index: Index = {}
    for obj in objects:
        first = index.get(obj.key)
        if first is None:
            index[obj.key] = obj
            continue
        problems.append(
            Problem(
                obj.table,
                obj.id,
                "id",
                f"expected one {obj.table} with this id, found it stored twice "
                f"(topics {describe(first.topic)} and {describe(obj.topic)})",
                DUPLICATE_ID,
            )
        )
    return index


def _dangling(
    obj: NbObject, table: Table, index: Index, tables: Mapping[str, Table]
) -> Iterator[Problem]:
    for reference in table.references:
        target = tables.get(reference.target)
        if target is not None and not target.stored:
            continue
        for path, target_id in reference.locate(obj.data):
            if (reference.target, target_id) not in index:
                yield Problem(
                    obj.table,
                    obj.id,
                    path,
                    f"expected an existing {reference.target}, found id {quote(target_id)}, "
                    f"which no {reference.target} in the NB DB has",
                    DANGLING_REFERENCE,
                )


def _duplicate_unique_keys(index: Index, tables: Mapping[str, Table]) -> Iterator[Problem]:
    """Two objects of one table with the same unique_key collide in the datapath registers."""
    owners: dict[tuple[str, int], str] = {}
    for key in sorted(index):
        obj = index[key]
        table = tables.get(obj.table)
        if table is None or "unique_key" not in table.fields:
            continue
        value = obj.data.get("unique_key")
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        owner = owners.setdefault((obj.table, value), obj.id)
        if owner != obj.id:
            yield Problem(
                obj.table,
                obj.id,
                "unique_key",
                f"expected a unique_key no other {obj.table} uses, found {value}, "
                f"also used by {obj.table} {quote(owner)}",
                DUPLICATE_KEY,
            )


# --- consistency between related objects --------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _router_ports(index: Index, by_table: ByTable) -> Iterator[Problem]:
    """A router port copies its interface lport: same id, unique_key, network and MAC."""
    for router in by_table.get(LROUTER, ()):
        for position, port in enumerate(_list(router.data.get("ports"))):
            if not isinstance(port, dict) or not isinstance(port.get("id"), str):
                continue
            lport = index.get((LPORT, port["id"]))
            if lport is None:
                yield Problem(
                    LROUTER,
                    router.id,
                    f"ports[{position}].id",
                    f"expected the id of its interface lport, found id {quote(port['id'])}, "
                    "which no lport in the NB DB has",
                    DANGLING_REFERENCE,
                )
                continue
            macs = _list(lport.data.get("macs"))
            ips = _list(lport.data.get("ips"))
            network = port.get("network")
            copies = (
                ("unique_key", "unique_key", port.get("unique_key"), lport.data.get("unique_key")),
                ("lswitch", "lswitch", port.get("lswitch"), lport.data.get("lswitch")),
                ("mac", "first MAC", port.get("mac"), macs[0] if macs else None),
                (
                    "network",
                    "first IP",
                    network.partition("/")[0] if isinstance(network, str) else None,
                    ips[0] if ips else None,
                ),
            )
            for name, what, here, there in copies:
                if here is not None and there is not None and here != there:
                    yield Problem(
                        LROUTER,
                        router.id,
                        f"ports[{position}].{name}",
                        f"expected the interface lport's {what} {describe(there)}, "
                        f"found {describe(here)}",
                        INCONSISTENT,
                    )


_TUNNEL_TYPES = ("vxlan", "geneve", "gre")


def _tunnel_reachability(index: Index, by_table: ByTable) -> Iterator[Problem]:
    """A port on a tunnel network is reachable only through a chassis terminating that
    tunnel type: with any other chassis, remote traffic for the port has no way in."""
    for port in by_table.get(LPORT, ()):
        binding = port.data.get("binding")
        if not isinstance(binding, dict) or binding.get("type") != "chassis":
            continue
        chassis_id, network_id = binding.get("chassis"), port.data.get("lswitch")
        if not isinstance(chassis_id, str) or not isinstance(network_id, str):
            continue
        chassis, network = index.get((CHASSIS, chassis_id)), index.get((LSWITCH, network_id))
        if chassis is None or network is None:
            continue
        kind = network.data.get("network_type")
        tunnels = chassis.data.get("tunnel_types")
        if kind in _TUNNEL_TYPES and isinstance(tunnels, list) and kind not in tunnels:
            yield Problem(
                LPORT,
                port.id,
                "binding.chassis",
                f"expected a chassis terminating {kind} tunnels (lswitch {network_id} is "
                f"{kind}), found {quote(chassis_id)}, which terminates "
                f"{', '.join(str(t) for t in tunnels) or 'no tunnels'}",
                INCONSISTENT,
            )


def _port_subnets(index: Index, by_table: ByTable) -> Iterator[Problem]:
    """The i-th IP of a port lies in its i-th subnet, on the port's own network."""
    networks: dict[str, _Network | None] = {}
    for port in by_table.get(LPORT, ()):
        ips = _list(port.data.get("ips"))
        for position, subnet_id in enumerate(_list(port.data.get("subnets"))):
            subnet = index.get((LSUBNET, subnet_id)) if isinstance(subnet_id, str) else None
            if subnet is None:
                continue
            network = port.data.get("lswitch")
            if network is not None and subnet.data.get("lswitch") not in (None, network):
                yield Problem(
                    LPORT,
                    port.id,
                    f"subnets[{position}]",
                    f"expected a subnet of the port's lswitch {describe(network)}, found "
                    f"{describe(subnet_id)} on {describe(subnet.data.get('lswitch'))}",
                    INCONSISTENT,
                )
            cidr = subnet.data.get("cidr")
            if position >= len(ips) or not isinstance(cidr, str):
                continue
            if cidr not in networks:
                networks[cidr] = _network(cidr)
            if not _inside(ips[position], networks[cidr]):
                yield Problem(
                    LPORT,
                    port.id,
                    f"ips[{position}]",
                    f"expected an address in subnet {subnet_id}'s cidr "
                    f"{describe(cidr)}, found {describe(ips[position])}",
                    INCONSISTENT,
                )


_Network = tuple[int, int, int]  # address family, network bits, mask


def _network(cidr: str) -> _Network | None:
    try:
        net = ipaddress.ip_interface(cidr).network
    except ValueError:
        return None
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    return family, int(net.network_address), int(net.netmask)


def _inside(address: Any, network: _Network | None) -> bool:
    """True unless both values are valid and the address is outside the network.

    inet_pton is used because ports outnumber subnets by far and the ipaddress
    module would dominate the whole check.
    """
    if network is None or not isinstance(address, str):
        return True
    family, bits, mask = network
    try:
        value = int.from_bytes(socket.inet_pton(family, address), "big")
    except OSError:
        return not _is_address(address)  # another family is outside; junk was reported already
    return value & mask == bits


def _is_address(text: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except OSError:
            continue
        return True
    return False


def _floating_ips(index: Index, by_table: ByTable) -> Iterator[Problem]:
    """A floating IP's addresses belong to the ports it names."""
    pairs = (("floating_lport", "floating_ip_address"), ("lport", "fixed_ip_address"))
    for fip in by_table.get(FLOATINGIP, ()):
        for port_field, address_field in pairs:
            port_id, address = fip.data.get(port_field), fip.data.get(address_field)
            port = index.get((LPORT, port_id)) if isinstance(port_id, str) else None
            if port is None or address is None:
                continue
            if address not in _list(port.data.get("ips")):
                yield Problem(
                    FLOATINGIP,
                    fip.id,
                    address_field,
                    f"expected one of {port_field} {port_id}'s ips "
                    f"{_list(port.data.get('ips'))}, found {describe(address)}",
                    INCONSISTENT,
                )


def _duplicate_addresses(index: Index, by_table: ByTable) -> Iterator[Problem]:
    """Two ports of one network with the same IP or MAC: the datapath delivers to only one.

    Neutron refuses both, so a duplicate means stale or hand-written data; which port is
    the stale one the NB cannot tell, so each of them carries the problem. A MAC shared
    with a port's trunk or port-behind-port child (ipvlan) is legitimate.
    """
    related: set[tuple[str, str]] = set()
    for segment in by_table.get(CHILD_PORT_SEGMENTATION, ()):
        parent, child = segment.data.get("parent"), segment.data.get("port")
        if isinstance(parent, str) and isinstance(child, str):
            related |= {(parent, child), (child, parent)}
    holders: dict[tuple[str, str, str], list[str]] = {}
    found: list[tuple[str, str, int, str, str]] = []  # port, field, position, value, network
    for port in sorted(by_table.get(LPORT, ()), key=lambda obj: obj.id):
        network = port.data.get("lswitch")
        if not isinstance(network, str):
            continue
        macs = _list(port.data.get("macs"))[:1]
        for name, values in (("ips", _list(port.data.get("ips"))), ("macs", macs)):
            for position, value in enumerate(values):
                if isinstance(value, str):
                    holders.setdefault((network, name, value), []).append(port.id)
                    found.append((port.id, name, position, value, network))
    for port_id, name, position, value, network in found:
        others = [
            other
            for other in holders[(network, name, value)]
            if other != port_id and not (name == "macs" and (other, port_id) in related)
        ]
        if not others:
            continue
        where = ", ".join(quote(other) for other in others)
        yield Problem(
            LPORT,
            port_id,
            f"{name}[{position}]",
            f"expected an address no other port of lswitch {network} has, found "
            f"{describe(value)}, also on lport{'s' if len(others) > 1 else ''} {where}",
            DUPLICATE_ADDRESS,
        )


_CONSISTENCY: tuple[Callable[[Index, ByTable], Iterator[Problem]], ...] = (
    _duplicate_addresses,
    _router_ports,
    _tunnel_reachability,
    _port_subnets,
    _floating_ips,
)
