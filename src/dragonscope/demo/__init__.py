"""The built-in sample cloud, its change stream, and the one-command demo."""

from dragonscope.demo.generate import SIZES, Counts, Dump, dump_json, generate, object_count

__all__ = ["SIZES", "Counts", "Dump", "dump_json", "generate", "object_count"]
