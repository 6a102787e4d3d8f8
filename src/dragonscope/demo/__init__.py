"""The built-in sample cloud, its change stream, its writers and the one-command demo.

It owns what only a demonstration needs: a deterministic cloud (``generate``,
``Counts``, ``SIZES``), an endless realistic stream of NB writes over it
(``Churn``), writers putting both into a real etcd, redis or dump file
(``write``, ``open_writer``: the only NB writers of dragonscope, for the demo,
tests and benchmarks, never a production NB), ``memory://sample``
(``open_nb``, ``sample_backend``) and the all-in-one ``Demo``.

It sits above the services (it composes the analyzer and a collector) and
below the command line, which it must not import; it reaches ``nb`` only through
``nb``'s surfaces, and the stored bytes, dump format, key layouts and URLs are ``nb``'s.
``dump_json`` and ``shown_url`` are ``nb``'s, listed here for the command line.
"""

from dragonscope.demo.churn import Churn
from dragonscope.demo.churn_state import Change
from dragonscope.demo.embedded import Demo, DemoSettings
from dragonscope.demo.generate import generate
from dragonscope.demo.sample import open_nb, sample_backend
from dragonscope.demo.sizes import SIZES, Counts, resolve_counts
from dragonscope.demo.writers import NbWriter, WriterError, open_writer, parse_out_url, write
from dragonscope.nb import Dump, dump_json, object_count
from dragonscope.nb.backends import shown_url

__all__ = [
    "SIZES",
    "Change",
    "Churn",
    "Counts",
    "Demo",
    "DemoSettings",
    "Dump",
    "NbWriter",
    "WriterError",
    "dump_json",
    "generate",
    "object_count",
    "open_nb",
    "open_writer",
    "parse_out_url",
    "resolve_counts",
    "sample_backend",
    "shown_url",
    "write",
]
