"""``POST /api/trace/real``: a packet traced by the switches themselves, beside the simulation.

The body is ``/api/trace``'s (``source``, ``destination``, ``proto``...; no ``patch`` and no
``at``: a real trace is of the switches as they are now). The analyzer simulates, then asks
the collector of the source chassis, over the connection it keeps open, for its switch ports
and one ``ofproto/trace``, and the destination's when the packet tunnels there
(``analyzer.chassis_calls``). ``ofproto/trace`` never sends a packet, yet it runs on the
chassis: only admins may ask (403 otherwise), a user at most ``PER_MINUTE`` times a minute and
``AT_ONCE`` at a time in all (429 beyond), and a trace gives up after ``DEADLINE`` s (504).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque

from aiohttp import web

from dragonscope.analyzer.auth import READ, Authenticator
from dragonscope.analyzer.chassis_calls import ChassisCalls, ChassisRefused, ChassisUnavailable
from dragonscope.analyzer.responses import BodyError, json_error, read_json
from dragonscope.analyzer.rest.trace import TraceService
from dragonscope.trace import TraceError, Tracer, TraceRequest, parse_apps
from dragonscope.trace.flows import ChassisOvs
from dragonscope.trace.real import ExpectedCache, Probe, RealTracer, drive, report

ADMIN = "admin"
PER_MINUTE = 10
AT_ONCE = 2
DEADLINE = 120.0

_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")


class RateLimit:
    """At most ``per_minute`` requests by one user in any minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._recent: dict[str, deque[float]] = {}

    def admit(self, user: str) -> float:
        """0 when ``user`` may go now, else the seconds until they may."""
        now = time.monotonic()
        recent = self._recent.setdefault(user, deque())
        while recent and now - recent[0] >= 60.0:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return 60.0 - (now - recent[0])
        recent.append(now)
        return 0.0


class RealTraces:
    """The real-trace route's state: the expected-rule cache of the current tracer."""

    def __init__(self, traces: TraceService, calls: ChassisCalls) -> None:
        self.traces, self.calls = traces, calls
        self.limit = RateLimit(PER_MINUTE)
        self.running = 0
        self._cache: tuple[Tracer, ExpectedCache] | None = None

    def _expected(self, tracer: Tracer) -> ExpectedCache:
        if self._cache is None or self._cache[0] is not tracer:
            self._cache = (tracer, {})
        return self._cache[1]

    async def ports(self, chassis: str) -> ChassisOvs | None:
        try:
            answer = await self.calls.call(chassis, {"Op": "ports"})
        except ChassisUnavailable:
            return None
        if not isinstance(answer, dict) or not isinstance(answer.get("Ports"), dict):
            raise ChassisRefused(f"chassis {chassis} answered ports without ports", 502)
        found = []
        for name in ("Ports", "Tunnels", "Patches"):
            value = answer.get(name)
            mapping = value if isinstance(value, dict) else {}
            found.append({str(k): v for k, v in mapping.items() if isinstance(v, int)})
        ofports, tunnels, patches = found
        metadata, snat, mac = (answer.get(k) for k in ("Metadata", "Snat", "SnatBridgeMac"))
        return ChassisOvs(
            ofports,
            tunnels,
            patches,
            metadata if isinstance(metadata, int) else None,
            snat if isinstance(snat, int) else None,
            mac if isinstance(mac, str) and _MAC.fullmatch(mac) else None,
        )

    async def trace(self, probe: Probe) -> str:
        answer = await self.calls.call(probe.chassis, probe.request())
        output = answer.get("Output") if isinstance(answer, dict) else None
        if not isinstance(output, str):
            raise ChassisRefused(f"chassis {probe.chassis} answered without a trace", 502)
        return output

    async def run(self, request: TraceRequest, apps: frozenset[str]) -> dict[str, object]:
        tracer = await self.traces.tracer(apps)
        real = RealTracer(tracer, expected=self._expected(tracer))
        run = await asyncio.to_thread(real.begin, request)
        await drive(run, self.ports, self.trace, in_thread=True)
        out = await asyncio.to_thread(report, run)
        out["chassis_answering"] = self.calls.chassis()
        return out


def mount_real_trace(
    router: web.UrlDispatcher, traces: TraceService, calls: ChassisCalls, guard: Authenticator
) -> RealTraces:
    service = RealTraces(traces, calls)

    async def post_real(request: web.Request) -> web.Response:
        principal = guard.require(request, READ)
        if principal.role != ADMIN:
            return json_error(403, "real traces run on the chassis: only admins may ask for one")
        try:
            body = await read_json(request)
        except BodyError as exc:
            return json_error(exc.status, str(exc))
        if not isinstance(body, dict):
            return json_error(400, "the request must be a JSON object")
        body = dict(body)
        for refused in ("patch", "at"):
            if refused in body:
                return json_error(400, f"a real trace is of the switches now: no {refused!r}")
        apps_spec = body.pop("apps", None)
        try:
            if apps_spec is not None and not isinstance(apps_spec, str):
                raise TraceError('apps must be a string like "+chassis_snat"')
            apps = parse_apps(apps_spec)
            trace_request = TraceRequest.from_json(body)
        except (TraceError, ValueError) as exc:
            return json_error(400, str(exc))
        wait = service.limit.admit(principal.name)
        if wait or service.running >= AT_ONCE:
            reason = (
                f"at most {PER_MINUTE} real traces a minute"
                if wait
                else f"at most {AT_ONCE} real traces at a time"
            )
            response = json_error(429, f"too many real traces: {reason}")
            response.headers["Retry-After"] = str(max(1, round(wait or 1)))
            return response
        service.running += 1
        try:
            async with asyncio.timeout(DEADLINE):
                result = await service.run(trace_request, apps)
        except TimeoutError:
            return json_error(504, f"the real trace did not finish within {DEADLINE:g} s")
        except ChassisRefused as exc:
            return json_error(502, str(exc))
        except (TraceError, ValueError) as exc:
            return json_error(400, str(exc))
        finally:
            service.running -= 1
        return web.json_response(result)

    router.add_post("/api/trace/real", post_real)
    return service
