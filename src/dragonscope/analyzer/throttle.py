"""Login rate limits: per user name and per source address, with exponential back-off.

A password guesser gets ``free_failures`` tries per name and per address; each
further failure locks that name (and that address) out for twice as long as the
last one, up to ``max_backoff``. While locked out, an attempt is answered 429 at
once, without checking the password: guessing costs time, and a flood of wrong
passwords cannot keep the password workers busy. Names are kept only as digests
(a password typed into the name field must not sit in memory in clear), all
names alike whether or not a user has it (so a 429 tells nothing about who
exists), and the number of tracked keys is bounded.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

USER = "user"
ADDRESS = "address"
BUSY = "busy"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    free_failures: int = 5  # failures allowed before the first lock-out
    backoff: float = 1.0  # seconds of the first lock-out, doubled by each further failure
    max_backoff: float = 300.0  # longest lock-out; failures older than this are forgotten
    in_flight_per_address: int = 2  # password checks running at once for one address
    tracked: int = 10_000  # names and addresses remembered (oldest forgotten first)


class Throttled(Exception):
    """Too many attempts: HTTP 429 with ``Retry-After``."""

    def __init__(self, scope: str, retry_after: float) -> None:
        self.scope = scope
        self.retry_after = max(1, math.ceil(retry_after))
        if scope == BUSY:
            text = "too many logins in progress"
        else:
            text = f"too many failed logins for this {scope}"
        super().__init__(f"{text}: retry in {self.retry_after} s")


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    """Failures by key, lock-outs, and the counts ``/metrics`` exports."""

    def __init__(self, limits: LoginLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()
        self._in_flight: Counter[str] = Counter()
        self.failures = 0
        self.refused: Counter[str] = Counter({USER: 0, ADDRESS: 0, BUSY: 0})

    @staticmethod
    def _keys(name: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return (USER, digest), (ADDRESS, address)

    def admit(self, name: str, address: str) -> None:
        """Raise Throttled when the name or the address is locked out."""
        now = self._clock()
        for key in self._keys(name, address):
            record = self._records.get(key)
            if record is not None and record.locked_until > now:
                self.refused[key[0]] += 1
                raise Throttled(key[0], record.locked_until - now)

    def refuse_busy(self) -> Throttled:
        self.refused[BUSY] += 1
        return Throttled(BUSY, 1.0)

    @contextmanager
    def attempt(self, address: str) -> Iterator[None]:
        """One password check for ``address``; refused while it has too many running."""
        if self._in_flight[address] >= self.limits.in_flight_per_address:
            raise self.refuse_busy()
        self._in_flight[address] += 1
        try:
            yield
        finally:
            self._in_flight[address] -= 1
            if not self._in_flight[address]:
                del self._in_flight[address]

    def failed(self, name: str, address: str) -> None:
        self.failures += 1
        now = self._clock()
        for key in self._keys(name, address):
            record = self._records.pop(key, None) or _Record()
            if now - record.last_failure > self.limits.max_backoff:
                record.failures = 0  # an old streak is forgiven
            record.failures += 1
            record.last_failure = now
            over = record.failures - self.limits.free_failures
            if over > 0:
                delay = self.limits.backoff * 2.0 ** min(over - 1, 30)
                record.locked_until = now + min(delay, self.limits.max_backoff)
            self._records[key] = record  # most recent last
        while len(self._records) > self.limits.tracked:
            self._records.popitem(last=False)

    def succeeded(self, name: str) -> None:
        """The name's streak ends; the address's does not (one valid account must not
        let an address guess the others' passwords at full speed)."""
        self._records.pop(self._keys(name, "")[0], None)

    def locked(self) -> int:
        """Names and addresses locked out now."""
        now = self._clock()
        return sum(1 for record in self._records.values() if record.locked_until > now)
