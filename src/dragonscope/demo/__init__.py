"""The built-in sample cloud, its change stream, and the one-command demo."""

from dragonscope.demo.embedded import Demo, DemoSettings
from dragonscope.demo.generate import SIZES, Counts, Dump, dump_json, generate, object_count
from dragonscope.demo.writers import WriterError, shown_url, write

__all__ = [
    "SIZES",
    "Counts",
    "Demo",
    "DemoSettings",
    "Dump",
    "WriterError",
    "dump_json",
    "generate",
    "object_count",
    "shown_url",
    "write",
]
