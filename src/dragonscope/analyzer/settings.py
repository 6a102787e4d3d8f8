"""What an analyzer needs to know to start; filled by the CLI or by embedders."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from dragonscope.analyzer.throttle import LoginLimits
from dragonscope.history import check_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
DEFAULT_TOKEN_TTL = 12 * 3600.0
DEFAULT_HISTORY_RETENTION = 24 * 3600.0
DEFAULT_HISTORY_MAX_CHANGES = 2_000_000
DEFAULT_HISTORY_MEMORY = 3600.0  # with a durable store, memory keeps the last hour
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
    # Durable history: sqlite:///path or postgresql://...; None keeps history in memory
    # only (the default for embedders; the analyzer command defaults to a file).
    history: str | None = None
    history_max_size: int | None = None  # bytes
    history_memory: float = DEFAULT_HISTORY_MEMORY
    insecure: bool = False
    host_id: str = field(default_factory=socket.gethostname)
    subscriber_queue: int = DEFAULT_SUBSCRIBER_QUEUE
    ping_interval: float = 5.0  # a pong must follow within half of it
    rejections_kept: int = 200  # per origin
    # Bounds on what clients send (docs/analyzer.md, "Limits"); each is enforced with
    # a 4xx or a WebSocket close whose text names it, and exported on /metrics.
    max_body_bytes: int = 8 * 2**20
    max_frame_bytes: int = 256 * 2**20  # a publisher's Sync of a large cloud fits
    max_json_depth: int = 64
    max_element_bytes: int = 2**20
    max_metadata_key_length: int = 256
    max_metadata_depth: int = 32
    max_publishers: int = 1000
    max_publishers_per_user: int = 200
    max_subscribers: int = 1000
    max_subscribers_per_user: int = 200
    subscriber_queue_bytes: int = 64 * 2**20
    rejections_bytes: int = 4 * 2**20  # all origins together
    rejection_sample_chars: int = 256
    log_lines_per_minute: int = 20  # per client
    gremlin_max_elements: int = 200_000
    gremlin_timeout: float = 10.0
    sync_encodings: int = 4  # large answers encoded at once; the others wait their turn
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
    # Names besides IP literals, localhost and the machine's own that Host may carry
    # ("*": any); origins of pages besides the analyzer's own that may write.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    login_limits: LoginLimits = field(default_factory=LoginLimits)

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated graph to the network."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range 0-65535")
        if self.token_ttl <= 0:
            raise ValueError("token TTL must be positive")
        if self.history_retention < 0:
            raise ValueError("history retention cannot be negative")
        if self.history is not None:
            check_url(self.history)
        if self.history_max_size is not None and self.history_max_size <= 0:
            raise ValueError("history max size must be positive")
        for name, value in self.limits().items():
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.skydive_ui is not None and skydive_ui_root(self.skydive_ui) is None:
            raise ValueError(
                f"--skydive-ui {self.skydive_ui}: no index.html there nor in its dist/; "
                "give the directory of the npm package @skydive-project/skydive-ui"
            )
        for origin in self.allowed_origins:
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(f"allowed origin {origin!r} must be scheme://host[:port]")
        if self.users_file is None and not self.insecure and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without authentication; "
                "give --users FILE, or --insecure to accept anyone on the network"
            )

    def limits(self) -> dict[str, float]:
        """Every input bound by its name (as /metrics and the docs spell it)."""
        return {name: getattr(self, name) for name in LIMITS}


LIMITS = (
    "max_body_bytes", "max_frame_bytes", "max_json_depth", "max_element_bytes",
    "max_metadata_key_length", "max_metadata_depth", "max_publishers",
    "max_publishers_per_user", "max_subscribers", "max_subscribers_per_user",
    "subscriber_queue", "subscriber_queue_bytes", "rejections_kept", "rejections_bytes",
    "rejection_sample_chars", "log_lines_per_minute", "gremlin_max_elements",
    "gremlin_timeout", "sync_encodings",
)  # fmt: skip


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
