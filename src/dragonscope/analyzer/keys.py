"""Typed keys of the aiohttp application."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# The Analyzer serving this application (typed Any to avoid an import cycle).
ANALYZER: web.AppKey[Any] = web.AppKey("analyzer")
