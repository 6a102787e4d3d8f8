"""A WebSocket publisher client for Skydive's ``/ws/publisher`` endpoint.

It owns the connection and nothing else: handshake headers (host id, client
type, persistence policy, JSON protocol), login and the ``authtoken`` cookie,
logging in again when the analyzer rejects the token, and reconnecting with
jittered exponential backoff. What to send, and what to resend after a
reconnect, is the caller's business (the collector keeps desired state, not a
log of messages), so a send on a dead connection fails fast instead of queueing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable, Sequence

import aiohttp

from dragonscope.skydive.messages import (
    HDR_BATCH,
    HDR_CLIENT_TYPE,
    HDR_HOST_ID,
    HDR_PERSISTENCE,
    HDR_PROTOCOL,
    PERSISTENCE_POLICIES,
    PERSISTENT,
    PROTOCOL_JSON,
    Message,
    MessageError,
    batch_frame,
    decode,
)
from dragonscope.skydive.rest import (
    AnalyzerError,
    AnalyzerHttp,
    AuthenticationError,
    connection_reason,
)
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_CLIENT_TYPE = "dragonscope-collector"
# The most bytes of one Batch frame: large enough that the per-frame costs vanish (a few
# hundred elements), small enough that the analyzer applies one between two turns of its
# loop, and that it knows from the frame's length alone that no element in it is over its
# default element bound (1 MiB).
BATCH_BYTES = 192 * 2**10


class PublisherDisconnected(ConnectionError):
    """The WebSocket is gone; reconnect and resync."""


class Backoff:
    """Exponential backoff with jitter: each delay is drawn from [d/2, d] where d
    doubles from ``initial`` up to ``cap``, so many collectors restarting with
    one analyzer do not reconnect in lockstep."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        if initial <= 0 or cap < initial:
            raise ValueError("backoff needs 0 < initial <= cap")
        self.initial, self.cap = initial, cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Publisher:
    """One publisher identity (``<client_type>.<host_id>`` is its Skydive Origin)."""

    def __init__(
        self,
        http: AnalyzerHttp,
        host_id: str,
        client_type: str = DEFAULT_CLIENT_TYPE,
        persistence: str = PERSISTENT,
        backoff: Backoff | None = None,
        on_reply: Callable[[Message], None] | None = None,
    ) -> None:
        if persistence not in PERSISTENCE_POLICIES:
            raise ValueError(f"persistence must be one of {', '.join(PERSISTENCE_POLICIES)}")
        self.http = http
        self.host_id = host_id
        self.client_type = client_type
        self.persistence = persistence
        self.backoff = backoff or Backoff()
        self._on_reply = on_reply
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._closed.set()
        # The bytes of a Batch frame the analyzer takes (0: one frame per message).
        self.batch_bytes = 0
        self._batches = itertools.count(1)
        # Counters for /metrics.
        self.messages_out = 0
        self.connects = 0
        self.connect_failures = 0
        self.rejections = 0
        self.last_error = ""

    @property
    def origin(self) -> str:
        return f"{self.client_type}.{self.host_id}"

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and not self._closed.is_set()

    def _headers(self) -> dict[str, str]:
        return {
            HDR_HOST_ID: self.host_id,
            HDR_CLIENT_TYPE: self.client_type,
            HDR_PROTOCOL: PROTOCOL_JSON,
            HDR_PERSISTENCE: self.persistence,
            **self.http.auth_headers(),
        }

    async def _attempt(self) -> None:
        """One connection attempt; raises AnalyzerError with the reason."""
        await self.http.ensure_login()
        try:
            ws = await self.http.session().ws_connect(
                f"{self.http.ws_base}/ws/publisher",
                headers=self._headers(),
                ssl=self.http.ssl_option,
                autoping=True,
                heartbeat=None,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AuthenticationError("analyzer rejected the token", 401) from None
            if exc.status == 403:
                raise AnalyzerError(
                    "analyzer refused publishing: the user lacks the publisher role", 403
                ) from None
            if exc.status == 409:
                raise AnalyzerError(
                    f"host id {self.host_id!r} is still connected (an earlier connection "
                    "not yet timed out, or another collector with the same identity)",
                    409,
                ) from None
            raise AnalyzerError(
                f"WebSocket handshake failed: HTTP {exc.status}", exc.status
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = connection_reason(exc)
            raise AnalyzerError(f"cannot reach {self.http.base_url}: {reason}") from None
        self._ws = ws
        self.batch_bytes = _batch_bytes(ws)
        self._closed.clear()
        self._reader = asyncio.create_task(self._read(ws), name="publisher-reader")

    async def connect(self) -> None:
        """Connect, retrying forever with backoff. A rejected token triggers one
        immediate re-login; wrong credentials are retried at backoff pace so that
        fixing the users file on the analyzer is enough to recover."""
        relogged = False
        while True:
            try:
                await self._attempt()
            except AuthenticationError as exc:
                self.connect_failures += 1
                if self.http.credentials is None:
                    self._note_error("analyzer requires authentication; configure a user/password")
                elif not relogged and exc.status == 401 and self.http.token is not None:
                    self.http.forget_token()
                    relogged = True
                    continue
                else:
                    self.http.forget_token()
                    self._note_error(str(exc))
            except AnalyzerError as exc:
                self.connect_failures += 1
                self._note_error(str(exc))
            else:
                self.connects += 1
                self.backoff.reset()
                self.last_error = ""
                log.info("connected to %s/ws/publisher as %s", self.http.base_url, self.origin)
                return
            relogged = False
            await asyncio.sleep(self.backoff.next_delay())

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("analyzer %s: %s (retrying)", self.http.base_url, message)
        self.last_error = message

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Drain what the analyzer sends: error replies count as rejections."""
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = decode(frame.data)
                except MessageError:
                    continue
                if message.status >= 400:
                    self.rejections += 1
                    # The first ones say what is wrong; after that, a count now and then.
                    if self.rejections <= 10 or self.rejections % 1000 == 0:
                        log.warning(
                            "analyzer rejected a %s message (%d so far): %s",
                            message.type, self.rejections, message.obj,
                        )  # fmt: skip
                if self._on_reply is not None:
                    self._on_reply(message)
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass
        finally:
            self._closed.set()
            if self._ws is ws:  # not a disconnect we asked for
                log.warning("analyzer connection lost (close code %s)", ws.close_code)

    async def send(self, message: Message) -> None:
        await self._frame(message.encode_bytes())
        self.messages_out += 1

    async def send_many(self, messages: Sequence[Message]) -> None:
        """Send in order: in Batch frames when the analyzer takes them, else one frame each."""
        if not self.batch_bytes:
            for message in messages:
                await self.send(message)
            return
        items: list[bytes] = []
        size = 0
        for message in messages:
            item = message.batch_item()
            if items and size + len(item) > self.batch_bytes:
                await self._batch(items)
                items, size = [], 0
            items.append(item)
            size += len(item) + 1
        if items:
            await self._batch(items)

    async def _batch(self, items: list[bytes]) -> None:
        await self._frame(batch_frame(f"batch-{next(self._batches)}", items))
        self.messages_out += len(items)

    async def _frame(self, text: bytes) -> None:
        ws = self._ws
        if ws is None or ws.closed or self._closed.is_set():
            raise PublisherDisconnected("not connected")
        try:
            await ws.send_frame(text, aiohttp.WSMsgType.TEXT)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self._closed.set()
            raise PublisherDisconnected(str(exc)) from None

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def disconnect(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(self._reader)
            self._reader = None
        self._closed.set()


def _batch_bytes(ws: aiohttp.ClientWebSocketResponse) -> int:
    """What the analyzer's upgrade response says of Batch frames (aiohttp keeps that
    response on the socket, unnamed); 0 when it says nothing, as Skydive's does."""
    response = getattr(ws, "_response", None)
    value = response.headers.get(HDR_BATCH, "") if response is not None else ""
    try:
        limit = int(value)
    except ValueError:
        return 0
    return max(0, min(BATCH_BYTES, limit // 2))
