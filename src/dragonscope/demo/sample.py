"""``memory://sample``: the demo's small cloud as an NB, for commands and tests alike.

``nb`` knows only real stores and the empty ``memory://``; the sample cloud is
the demo's, so the demo resolves its URL on top of ``nb``'s readers.
"""

from __future__ import annotations

from dragonscope.demo.generate import generate
from dragonscope.nb import NbReader, open_reader
from dragonscope.nb.backends import MemoryBackend, MemoryUrl, parse_url

SAMPLE = "sample"


def sample_backend(url: str = "memory://sample") -> MemoryBackend:
    """A memory backend holding the demo's small sample cloud (seed 0)."""
    backend = MemoryBackend(url)
    backend.load_dump(generate("small", seed=0))
    return backend


def open_nb(url: str) -> NbReader:
    """A reader for any NB URL, ``memory://sample`` included; BackendError if the URL is bad."""
    target = parse_url(url)
    if isinstance(target, MemoryUrl) and target.name == SAMPLE:
        return NbReader(sample_backend(target.url))
    return open_reader(url)
