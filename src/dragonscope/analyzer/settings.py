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

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated graph to the network."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range 0-65535")
        if self.token_ttl <= 0:
            raise ValueError("token TTL must be positive")
        if self.history_retention < 0:
            raise ValueError("history retention cannot be negative")
        for name, value in self.limits().items():
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
