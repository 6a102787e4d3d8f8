"""``/api/alert``: Skydive's alerts over REST."""

from __future__ import annotations

from aiohttp import web

from dragonscope.analyzer.alerts import Alert, AlertManager
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.reactor import Reactor
from dragonscope.analyzer.rest.crud import Registry, mount


def mount_alerts(
    router: web.UrlDispatcher, manager: AlertManager, reactor: Reactor, guard: Authenticator
) -> None:
    """A new alert is evaluated at once (the reactor's next pass); alerts are never updated."""

    async def added(alert: Alert) -> None:
        reactor.poke()

    alerts = Registry("Alert", manager.alerts, Alert.from_body, added, lambda alert: None)
    mount(router, "/api/alert", alerts, guard)
