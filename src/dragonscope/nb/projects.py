"""Project (tenant) names for the NB's topics.

Dragonflow stores only the project id (an object's ``topic``); the names live in
Keystone. An operator gives them as a file of ``project_id name`` lines, or lets
dragonscope read them from Keystone with the standard OpenStack client library
(``openstacksdk``, optional: only needed for that). Names are for display and for
finding a project by name; ids stay the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from dragonscope.config import ConfigError

log = logging.getLogger(__name__)


class ProjectNames:
    """Project id -> name, and back for lookups by name."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names: dict[str, str] = dict(names or {})

    def name(self, project_id: str) -> str | None:
        return self.names.get(project_id)

    def resolve(self, text: str, known: Iterable[str] = ()) -> str:
        """The project id ``text`` names: an id itself (known to the NB or to the mapping),
        else a name from the mapping; a clear error otherwise."""
        known_ids = set(known)
        if text in known_ids or text in self.names:
            return text
        matches = sorted(pid for pid, name in self.names.items() if name == text)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ValueError(f"project name {text!r} is ambiguous: ids {', '.join(matches)}")
        if not self.names:
            raise ValueError(
                f"{text!r} is not a project id of this NB, and no project names are "
                "configured (give --tenant-names FILE of 'project_id name' lines)"
            )
        shown = ", ".join(sorted(set(self.names.values()))[:20])
        raise ValueError(f"no project is named or identified by {text!r}; known names: {shown}")


def parse_project_names(text: str, source: str) -> ProjectNames:
    """``project_id name`` per line; blank lines and ``#`` comments ignored."""
    names: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ConfigError(f"{source}:{number}: expected 'project_id name', got {line!r}")
        names[parts[0]] = parts[1].strip()
    return ProjectNames(names)


def read_project_names(path: str | Path) -> ProjectNames:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read project names file {path}: {exc.strerror}") from None
    return parse_project_names(text, str(path))


def keystone_project_names(cloud: str | None = None) -> ProjectNames:
    """Every project Keystone lists, through ``openstacksdk`` and its ``clouds.yaml``
    (``cloud`` names the entry; the ``OS_*`` environment works too)."""
    try:
        import openstack  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise ConfigError(
            "reading project names from Keystone needs the openstacksdk package "
            "(pip install openstacksdk); or give a names file"
        ) from None
    try:
        connection = openstack.connect(cloud=cloud)
        names = {str(p.id): str(p.name) for p in connection.identity.projects()}
    except Exception as exc:  # the SDK raises many kinds; all mean "no names from Keystone"
        raise ConfigError(f"cannot list projects from Keystone: {exc}") from None
    log.info("read %d project names from Keystone", len(names))
    return ProjectNames(names)


class ProjectNamesFile:
    """A names file, read again when it changes (projects come and go)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._names = read_project_names(self.path)
        self._stamp = self._stat()
        log.info("read %d project names from %s", len(self._names.names), self.path)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> ProjectNames:
        """The names as the file holds them now; the last good ones while it cannot be read."""
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            try:
                self._names = read_project_names(self.path)
            except ConfigError as exc:
                log.warning("%s; keeping the %d names read before", exc, len(self._names.names))
            else:
                log.info("read %d project names from %s", len(self._names.names), self.path)
            self._stamp = stamp
        return self._names
