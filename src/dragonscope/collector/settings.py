"""What a collector needs to know, and how flags, environment and
``dragonflow.ini`` combine into it (flags win over environment, environment
over the ini file, the ini file over Dragonflow's defaults)."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dragonscope import config
from dragonscope.config import ConfigError, Secret
from dragonscope.nb import NbReader
from dragonscope.nb.backends import Backend
from dragonscope.skydive import DELETE_ON_DISCONNECT, PERSISTENT
from dragonscope.topology import Extension

# An NB URL, or a store an embedder already opened (then it stays open after the collector).
NbSource = str | NbReader | Backend

GLOBAL_HOST = "dragonflow"
# Where Open vSwitch listens by default (``dragonscope.ovs.DEFAULT_OVSDB``, spelled again here
# so that a collector without a probe never imports the probe; a test keeps them equal).
DEFAULT_OVSDB = "unix:/var/run/openvswitch/db.sock"
_OVSDB = re.compile(r"unix:/\S+|tcp:[\w.:\[\]-]+:\d+")
_HOST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,253}")


@dataclass
class CollectorSettings:
    """Settings of one collector.

    ``nb`` is an NB URL (``etcd://h:p[,h:p]``, ``redis://h:p[/db]``,
    ``file:///dump.json``), opened with ``dragonscope.nb.open_reader``, or an
    already open reader or backend, which the collector then uses without
    closing it (the embedded demo shares one memory backend with its churn
    generator; the command line resolves ``memory://sample`` into one).
    ``persistence`` None picks ``Persistent`` for the global collector (the
    last known graph survives a collector restart) and ``DeleteOnDisconnect``
    for a chassis collector (a chassis's view goes when its collector goes).
    """

    nb: NbSource
    analyzer: str = config.DF_ANALYZER_ENDPOINT
    chassis: str | None = None
    update_interval: float = config.DF_UPDATE_INTERVAL
    user: str | None = None
    password: Secret | None = field(default=None)
    # The file ``password`` was read from: read again at every login (password rotation).
    password_file: str | None = None
    host_id: str | None = None
    persistence: str | None = None
    metrics_listen: str | None = None
    tls: bool = False
    ca_file: str | None = None
    tls_insecure: bool = False
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # How long a flush waits for the rest of a burst: a change's whole budget is 10 ms
    # from etcd to the analyzer's subscribers (the changes of one NB read are always merged).
    coalesce_window: float = 0.001
    nb_probe_interval: float = 2.0
    progress: bool | None = None
    extensions: list[Extension] | None = None
    client_type: str = "dragonscope-collector"
    # The chassis's Open vSwitch (see dragonscope.collector.ovs_source): ovsdb None means the
    # default socket when it exists; ovs False turns the probe off; ovs_allocation_file None
    # means Dragonflow's default path.
    ovsdb: str | None = None
    ovs: bool = True
    ovs_rules: bool = False
    integration_bridge: str = "br-int"
    ovs_flow_interval: float = 5.0
    ovs_counter_interval: float = 30.0
    ovs_allocation_file: str | None = None
    # Dragonflow's bridge mappings (physnet -> its bridge, patched to br-int): where the
    # expected provider rules and real traces find each physical network.
    bridge_mappings: tuple[tuple[str, str], ...] = config.DF_BRIDGE_MAPPINGS

    @property
    def ovsdb_remote(self) -> str | None:
        """The OVSDB the chassis probe reads: none globally, with ``--no-ovs``, or when no
        OVSDB is named and the default socket does not exist."""
        if not self.chassis or not self.ovs:
            return None
        if self.ovsdb is not None:
            return self.ovsdb
        return DEFAULT_OVSDB if os.path.exists(DEFAULT_OVSDB.removeprefix("unix:")) else None

    def __post_init__(self) -> None:
        if isinstance(self.nb, str):
            if not self.nb.strip():
                raise ConfigError("no NB DB given: an NB URL, a reader or a backend is needed")
        elif not isinstance(self.nb, NbReader) and not callable(getattr(self.nb, "changes", None)):
            raise ConfigError(f"nb must be an NB URL, a reader or a backend, not {self.nb!r}")
        if isinstance(self.password, str):
            self.password = Secret(self.password)
        if not self.analyzers:
            raise ConfigError("no analyzer given: HOST:PORT, or several separated by commas")
        if len(set(self.analyzers)) != len(self.analyzers):
            raise ConfigError(f"an analyzer is listed twice in {self.analyzer!r}")
        if self.update_interval <= 0:
            raise ConfigError("update interval must be positive")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ConfigError("backoff needs 0 < initial <= cap")
        if self.persistence not in (None, PERSISTENT, DELETE_ON_DISCONNECT):
            raise ConfigError(
                f"persistence must be {PERSISTENT} or {DELETE_ON_DISCONNECT}, "
                f"got {self.persistence!r}"
            )
        if self.chassis is not None and not _HOST_ID.fullmatch(self.chassis):
            raise ConfigError(f"chassis name {self.chassis!r} is not a valid host name")
        if self.host_id is not None and not _HOST_ID.fullmatch(self.host_id):
            raise ConfigError(f"host id {self.host_id!r} is not valid")
        if self.ovsdb is not None and not _OVSDB.fullmatch(self.ovsdb):
            raise ConfigError(f"--ovsdb {self.ovsdb!r}: use unix:PATH or tcp:HOST:PORT")

    @property
    def analyzers(self) -> list[str]:
        """Every analyzer to publish to: ``analyzer`` may list several, comma-separated
        (two analyzers behind a load balancer, say), each kept in sync on its own."""
        return [a.strip() for a in self.analyzer.split(",") if a.strip()]

    @property
    def host(self) -> str:
        """``Host`` of every published element."""
        return self.chassis or GLOBAL_HOST

    @property
    def publisher_host_id(self) -> str:
        return self.host_id or self.host

    @property
    def persistence_policy(self) -> str:
        if self.persistence is not None:
            return self.persistence
        return DELETE_ON_DISCONNECT if self.chassis else PERSISTENT


def settings_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> CollectorSettings:
    """Combine flags, ``DRAGONSCOPE_*`` variables and ``--config`` into settings.

    ``nb`` is the URL found there; a caller that resolves some URLs itself (the
    command line turns ``memory://sample`` into the demo's store) swaps the store
    in with ``dataclasses.replace(settings, nb=store)``.
    """

    def pick(flag: Any, env_name: str) -> Any:
        return flag if flag is not None else config.env_value(env_name, environ)

    ini_path = pick(args.config, "CONFIG")
    ini = config.read_dragonflow_ini(ini_path) if ini_path else None

    nb = pick(args.nb, "NB") or (ini.nb_url if ini else None)
    if not nb:
        raise ConfigError("no NB DB given: use --nb URL or --config dragonflow.ini")
    analyzer = pick(args.analyzer, "ANALYZER") or (
        ini.analyzer if ini else config.DF_ANALYZER_ENDPOINT
    )

    user = pick(args.user, "USER") or (ini.user if ini else None)
    password: Secret | None = None
    password_file = pick(args.password_file, "PASSWORD_FILE")
    if password_file:
        password = config.read_secret_file(password_file)
    elif config.env_value("PASSWORD", environ):
        password = Secret(config.env_value("PASSWORD", environ) or "")
    elif ini and ini.password:
        password = ini.password
    if password is None:
        # Without a password there is nothing to log in with (Dragonflow's
        # default user "admin" only matters together with its password).
        user = pick(args.user, "USER")

    interval_raw = pick(args.update_interval, "UPDATE_INTERVAL")
    if interval_raw is not None:
        interval = config.parse_float(str(interval_raw), "update interval", "flags/environment")
    else:
        interval = ini.update_interval if ini else config.DF_UPDATE_INTERVAL

    metrics = pick(args.metrics_listen, "METRICS_LISTEN")
    if metrics:
        config.parse_host_port(metrics, "--metrics-listen")
    backoff_raw = pick(args.backoff_max, "BACKOFF_MAX")
    backoff_max = (
        config.parse_float(str(backoff_raw), "backoff cap", "flags/environment")
        if backoff_raw is not None
        else 30.0
    )
    return CollectorSettings(
        nb=nb,
        analyzer=analyzer,
        chassis=pick(args.chassis, "CHASSIS"),
        update_interval=interval,
        user=user,
        password=password,
        password_file=password_file if password is not None and password_file else None,
        host_id=pick(args.host_id, "HOST_ID"),
        persistence=pick(args.persistence, "PERSISTENCE"),
        metrics_listen=metrics,
        tls=bool(args.tls)
        or bool(pick(args.ca, "CA"))
        or (config.env_value("TLS", environ) or "").lower() in ("1", "true", "yes"),
        ca_file=pick(args.ca, "CA"),
        tls_insecure=bool(args.tls_insecure),
        backoff_initial=min(0.5, backoff_max),
        backoff_max=backoff_max,
        progress=args.progress,
        ovsdb=pick(args.ovsdb, "OVSDB"),
        ovs=not args.no_ovs,
        ovs_rules=bool(args.ovs_rules),
        integration_bridge=ini.integration_bridge if ini else "br-int",
        bridge_mappings=(
            config.parse_bridge_mappings(args.bridge_mappings, "--bridge-mappings")
            if args.bridge_mappings
            else ini.bridge_mappings
            if ini
            else config.DF_BRIDGE_MAPPINGS
        ),
    )
