"""Settings sources shared by the long-running services: environment, secret files
and the operator's existing ``dragonflow.ini``.

Operators already describe their NB DB and their Skydive analyzer in
``dragonflow.ini`` (``[df]`` and ``[df_skydive]``); reading it means a collector
beside a controller needs no extra configuration. Values keep Dragonflow's own
meanings and defaults. Passwords are wrapped in :class:`Secret` so that no repr,
log line or error message can show them.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "DRAGONSCOPE_"

# Dragonflow's defaults (dragonflow/conf/df_common_params.py, df_skydive.py).
DF_REMOTE_DB_IP = "127.0.0.1"
DF_REMOTE_DB_PORT = 4001
DF_NB_DB_CLASS = "etcd_nb_db_driver"
DF_ANALYZER_ENDPOINT = "127.0.0.1:8082"
DF_SKYDIVE_USER = "admin"
DF_UPDATE_INTERVAL = 10.0
DF_BRIDGE_MAPPINGS = (("public", "br-ex"),)  # [df_provider_networks] bridge_mappings

# nb_db_class values (stevedore aliases and the class paths they stand for) → URL scheme.
_NB_DRIVERS = {
    "etcd_nb_db_driver": "etcd",
    "dragonflow.db.drivers.etcd_db_driver.EtcdDbDriver": "etcd",
    "redis_nb_db_driver": "redis",
    "dragonflow.db.drivers.redis_db_driver.RedisDbDriver": "redis",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting and its source."""


class Secret:
    """A string that never shows itself: repr/str print a mask, so a settings
    object can be logged whole without leaking a password."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``DRAGONSCOPE_<NAME>`` from the environment; empty counts as unset."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_PREFIX + name.upper())
    return value if value else None


def read_secret_file(path: str | Path) -> Secret:
    """A password file holds the password on its first line (trailing newline ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"password file {path} is empty")
    return Secret(lines[0])


def parse_float(value: str, name: str, source: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} from {source} must be a number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name} from {source} must be a positive number, got {value!r}")
    return number


def parse_host_port(value: str, name: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[v6]:PORT``."""
    text = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]*):(\d+)|(\d+)", text)
    if not match:
        raise ConfigError(f"{name} must be HOST:PORT, got {value!r}")
    host = match.group(1) or match.group(3) or default_host
    port = int(match.group(2) or match.group(4) or match.group(5))
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name}: port {port} is out of range")
    return host, port


@dataclass(frozen=True, slots=True)
class DragonflowSettings:
    """What ``dragonflow.ini`` says about the NB DB and the Skydive analyzer."""

    nb_url: str
    analyzer: str
    user: str | None
    password: Secret | None
    update_interval: float
    integration_bridge: str = "br-int"
    bridge_mappings: tuple[tuple[str, str], ...] = DF_BRIDGE_MAPPINGS


def parse_bridge_mappings(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """Dragonflow's ``bridge_mappings``: ``physnet:bridge`` pairs, comma-separated."""
    pairs = []
    for item in (i.strip() for i in text.split(",")):
        physnet, _, bridge = item.partition(":")
        if not physnet.strip() or not bridge.strip():
            raise ConfigError(f"{where}: bridge mapping {item!r} is not PHYSNET:BRIDGE")
        pairs.append((physnet.strip(), bridge.strip()))
    return tuple(pairs)


def _interpolate(value: str, section: Mapping[str, str]) -> str:
    """oslo.config's ``$name`` / ``${name}`` substitution within one group."""

    def repl(match: re.Match[str]) -> str:
        key = match.group(1) or match.group(2)
        if key in section:
            return section[key]
        defaults = {"remote_db_ip": DF_REMOTE_DB_IP, "remote_db_port": str(DF_REMOTE_DB_PORT)}
        if key in defaults:
            return defaults[key]
        raise ConfigError(f"[df] refers to ${key}, which is not set")

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, value)


def nb_url_from_df(nb_db_class: str, hosts: list[str]) -> str:
    """Turn ``[df] nb_db_class`` and ``remote_db_hosts`` into an NB URL."""
    scheme = _NB_DRIVERS.get(nb_db_class.strip())
    if scheme is None:
        supported = "etcd_nb_db_driver, redis_nb_db_driver"
        raise ConfigError(
            f"[df] nb_db_class = {nb_db_class} is not supported (supported: {supported})"
        )
    endpoints = []
    for host in hosts:
        h, p = parse_host_port(host, "[df] remote_db_hosts entry")
        endpoints.append(f"[{h}]:{p}" if ":" in h else f"{h}:{p}")
    if not endpoints:
        raise ConfigError("[df] remote_db_hosts is empty")
    if scheme == "redis":
        # A Redis Cluster is reached through any one of its nodes.
        return f"redis://{endpoints[0]}"
    return f"etcd://{','.join(endpoints)}"


def read_dragonflow_ini(path: str | Path) -> DragonflowSettings:
    """Read ``[df]`` and ``[df_skydive]`` with Dragonflow's defaults for what is absent."""
    parser = configparser.ConfigParser(
        interpolation=None, strict=False, default_section="DEFAULT", comment_prefixes=("#", ";")
    )
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not a valid ini file: {first_line}") from None
    df = dict(parser["df"]) if parser.has_section("df") else {}
    sky = dict(parser["df_skydive"]) if parser.has_section("df_skydive") else {}
    df_strs = {k: v.strip() for k, v in df.items()}

    hosts_raw = df_strs.get("remote_db_hosts") or "$remote_db_ip:$remote_db_port"
    hosts = [h.strip() for h in _interpolate(hosts_raw, df_strs).split(",") if h.strip()]
    nb_url = nb_url_from_df(df_strs.get("nb_db_class") or DF_NB_DB_CLASS, hosts)

    interval_raw = sky.get("update_interval", "").strip()
    interval = (
        parse_float(interval_raw, "update_interval", f"{path} [df_skydive]")
        if interval_raw
        else DF_UPDATE_INTERVAL
    )
    password = sky.get("password", "").strip()
    providers = dict(parser["df_provider_networks"]) if parser.has_section(
        "df_provider_networks"
    ) else {}  # fmt: skip
    mappings = providers.get("bridge_mappings", "").strip()
    return DragonflowSettings(
        nb_url=nb_url,
        analyzer=sky.get("analyzer_endpoint", "").strip() or DF_ANALYZER_ENDPOINT,
        user=sky.get("user", "").strip() or DF_SKYDIVE_USER,
        password=Secret(password) if password else None,
        update_interval=interval,
        integration_bridge=df_strs.get("integration_bridge") or "br-int",
        bridge_mappings=(
            parse_bridge_mappings(mappings, f"{path} [df_provider_networks]")
            if mappings
            else DF_BRIDGE_MAPPINGS
        ),
    )
