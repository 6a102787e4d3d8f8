"""What an analyzer needs to know to start; filled by the CLI or by embedders."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
DEFAULT_TOKEN_TTL = 12 * 3600.0
DEFAULT_HISTORY_RETENTION = 24 * 3600.0
DEFAULT_HISTORY_MAX_CHANGES = 2_000_000
DEFAULT_SUBSCRIBER_QUEUE = 10_000


@dataclass(slots=True)
class AnalyzerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    users_file: Path | None = None
    token_ttl: float = DEFAULT_TOKEN_TTL
    tls_cert: Path | None = None
    tls_key: Path | None = None
    history_retention: float = DEFAULT_HISTORY_RETENTION
    history_max_changes: int = DEFAULT_HISTORY_MAX_CHANGES
    insecure: bool = False
    host_id: str = field(default_factory=socket.gethostname)
    subscriber_queue: int = DEFAULT_SUBSCRIBER_QUEUE
    ping_interval: float = 5.0  # a pong must follow within half of it
    rejections_kept: int = 200
    # Freeze what survives a slow full GC pass (see gc_policy); on in the analyzer
    # process, off by default for programs that embed an analyzer.
    gc_freeze: bool = False
    # A Skydive UI build (the npm package @skydive-project/skydive-ui, or its dist/)
    # served at /skydive/.
    skydive_ui: Path | None = None
    # Project (tenant) names shown instead of ids: a file of "project_id name" lines
    # (re-read when it changes), Keystone through openstacksdk (the clouds.yaml entry
    # named here, "" for the environment's), or a fixed mapping given by an embedder.
    project_names_file: Path | None = None
    keystone_cloud: str | None = None
    project_names: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated graph to the network."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range 0-65535")
        if self.token_ttl <= 0:
            raise ValueError("token TTL must be positive")
        if self.history_retention < 0:
            raise ValueError("history retention cannot be negative")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.skydive_ui is not None and skydive_ui_root(self.skydive_ui) is None:
            raise ValueError(
                f"--skydive-ui {self.skydive_ui}: no index.html there nor in its dist/; "
                "give the directory of the npm package @skydive-project/skydive-ui"
            )
        if self.users_file is None and not self.insecure and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without authentication; "
                "give --users FILE, or --insecure to accept anyone on the network"
            )


def skydive_ui_root(path: Path) -> Path | None:
    """The directory of a Skydive UI build: ``path`` or its ``dist/`` (the npm package
    ships its build there), whichever holds ``index.html``."""
    for root in (path, path / "dist"):
        if (root / "index.html").is_file():
            return root.resolve()
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
