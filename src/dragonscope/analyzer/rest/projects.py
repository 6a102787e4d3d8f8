"""``GET /api/tenants``: the project names the analyzer knows, for clients to show."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from dragonscope.analyzer.auth import READ, Authenticator
from dragonscope.analyzer.responses import json_response
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.nb import ProjectNames, ProjectNamesFile, keystone_project_names

log = logging.getLogger(__name__)


def project_source(settings: AnalyzerSettings) -> Callable[[], ProjectNames]:
    """The names as configured, read once (Keystone) or again on every change (a file);
    an embedder's ``project_names`` (which it may update at any time) come first. Raises
    ConfigError when the source cannot be read."""
    if settings.project_names_file is not None:
        names_file = ProjectNamesFile(settings.project_names_file)
        return lambda: ProjectNames({**names_file.current().names, **settings.project_names})
    if settings.keystone_cloud is not None:
        keystone = keystone_project_names(settings.keystone_cloud or None).names
        return lambda: ProjectNames({**keystone, **settings.project_names})
    return lambda: ProjectNames(settings.project_names)


def mount_projects(
    router: web.UrlDispatcher, names: Callable[[], ProjectNames], guard: Authenticator
) -> None:
    async def get_tenants(request: web.Request) -> web.Response:
        guard.require(request, READ)
        return json_response({"Tenants": names().names})

    router.add_get("/api/tenants", get_tenants)
