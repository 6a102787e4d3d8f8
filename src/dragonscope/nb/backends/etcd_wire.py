"""The gRPC side of the etcd backend: one channel at a time over the endpoints, and what
each gRPC failure means for the reader (compacted, unreachable, rewound, refused).

Kept apart from ``etcd.py`` so that the reading logic there says what it does with a
failure, not how gRPC spells it.
"""

from __future__ import annotations

import grpc
from aetcd import rpc

from dragonscope.nb.backends.base import BackendError

# Fail fast and reconnect fast: an operator watching an outage wants the picture
# back within seconds of etcd's return, not after gRPC's two-minute backoff.
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 256 * 2**20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)
# Ask etcd to cancel a watch when its member loses the cluster leader, so that a
# partitioned member cannot keep us on stale data (etcd clientv3's WithRequireLeader).
WATCH_METADATA = (("hasleader", "true"),)

RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


class Compacted(Exception):
    """The revision asked for is no longer in etcd's history."""


class Unreachable(Exception):
    """The current endpoint failed; another one (or a later try) may work."""


class Rewound(Exception):
    """The store's history is not the one followed so far (restore, wipe); the text says how."""


class Connection:
    """A gRPC channel to one endpoint at a time; ``rotate`` moves to the next one."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        self.endpoints = endpoints
        self.index = 0
        self.channel: grpc.aio.Channel | None = None

    @property
    def target(self) -> str:
        host, port = self.endpoints[self.index]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _open(self) -> grpc.aio.Channel:
        if self.channel is None:
            self.channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        return self.channel

    def kv(self) -> rpc.KVStub:
        return rpc.KVStub(self._open())

    def watch(self) -> rpc.WatchStub:
        return rpc.WatchStub(self._open())

    async def rotate(self) -> None:
        await self.close()
        self.index = (self.index + 1) % len(self.endpoints)

    async def close(self) -> None:
        if self.channel is not None:
            channel, self.channel = self.channel, None
            await channel.close()


def classify(exc: grpc.aio.AioRpcError) -> Exception:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
        return Compacted(details)
    if code in RETRYABLE:
        if "failed to connect" in details:  # gRPC's long form ends with the socket error
            return Unreachable(details.rsplit(": ", 1)[-1].lower())
        return Unreachable(f"{code.name.lower()}: {details}".rstrip(": "))
    if code == grpc.StatusCode.OUT_OF_RANGE and "future" in details:
        return Rewound("the store is behind the revision followed (restored from a backup?)")
    return BackendError(f"etcd refused the request ({code.name.lower()}: {details})")
