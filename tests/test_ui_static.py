"""The web UI's page, read as files: it preloads exactly the modules it imports."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from dragonscope.analyzer.rest.ui import STATIC_DIR

IMPORT = re.compile(r'^import [^;]*? from "(\.[^"]+)";', re.MULTILINE)
PRELOAD = re.compile(r'<link rel="modulepreload" href="([^"]+)">')


def imported_modules(entry: str) -> set[str]:
    """Every module reachable from ``entry`` (a URL path), by its static imports."""
    found: set[str] = set()
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        found.add(url)
        if url == "/static/js/wire.js":  # served from the analyzer's constants: no imports
            continue
        text = (STATIC_DIR / url.removeprefix("/static/")).read_text()
        for target in IMPORT.findall(text):
            parts: list[str] = []
            for part in (PurePosixPath(url).parent / target).parts:
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            todo.append("/".join(parts).replace("//", "/"))
    return found


def test_the_page_preloads_every_module_it_imports() -> None:
    page = (STATIC_DIR / "index.html").read_text()
    preloaded = PRELOAD.findall(page)
    assert len(preloaded) == len(set(preloaded))
    assert set(preloaded) == imported_modules("/static/js/main.js")
