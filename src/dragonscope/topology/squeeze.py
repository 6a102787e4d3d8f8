"""Long-lived texts compressed with a dictionary learned from the NB's own objects.

A global topology keeps two compact JSON texts per NB object for as long as it runs:
the object's stored fields (``store``) and its node's own metadata (``packed``). In a
100k-object NB that is some 110 MiB, nine tenths of it ports. The texts of one table
repeat the same keys, tenants, networks and prefixes, so zstd with a dictionary trained
on a few hundred of them makes them three to four times smaller, at about 3 µs per text
packed and 1.3 µs per text read (zlib's preset dictionary costs 9 to 14 µs per text
for less, as it digests the dictionary again for every text).

A table learns its dictionary once a topology holds ``LEARN_AT`` of its objects, and
keeps it for the life of the process: texts packed earlier stay plain (``str``), later
ones are compressed (``bytes`` led by the number of their dictionary). The same text
packed twice with one dictionary gives the same bytes, so packed texts still compare
by equality; a plain text and a compressed one compare by what they say (``expand``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import zstandard

log = logging.getLogger(__name__)

LEARN_AT = 500
"""Objects of a table a topology holds before the table learns its dictionary (and the
texts it learns from): a chassis slice or a small cloud never pays for one."""
_DICTIONARY_BYTES = 16 * 1024
_LEVEL = 1
_SHORTEST = 32
"""Texts shorter than this gain too little to pay for the call: kept plain."""
_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS
_FRAME = zstandard.ZstdCompressionParameters.from_level(
    _LEVEL, format=_FORMAT, write_content_size=True, write_checksum=False, write_dict_id=False
)
"""The smallest frame that still says its size: no magic number, checksum or dictionary ID
(the first byte names the dictionary). A port's subnet edge, 45 bytes, takes 18."""
_MAX_DICTIONARIES = 256
"""A compressed text names its dictionary in one byte."""


class _Codec:
    """One table's dictionary. zstd's contexts are not safe to share between threads (the
    flow-drift rules are generated in a worker thread), hence the lock: uncontended, it
    costs a fraction of a call."""

    __slots__ = ("_compressor", "_decompressor", "_lock", "tag")

    def __init__(self, tag: int, dictionary: zstandard.ZstdCompressionDict) -> None:
        self.tag = bytes((tag,))
        self._compressor = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=_FRAME)
        self._decompressor = zstandard.ZstdDecompressor(dict_data=dictionary, format=_FORMAT)
        self._lock = threading.Lock()

    def compress(self, text: bytes) -> bytes:
        with self._lock:
            return self.tag + self._compressor.compress(text)

    def decompress(self, packed: bytes) -> bytes:
        with self._lock:
            return self._decompressor.decompress(memoryview(packed)[1:])


_BY_TAG: list[_Codec] = []
_BY_TABLE: dict[str, _Codec | None] = {}
"""A table's dictionary; None for a table that could not learn one (it will not retry)."""


def learned(table: str) -> bool:
    """Whether ``table`` has tried to learn its dictionary (whatever came of it)."""
    return table in _BY_TABLE


def learn(table: str, samples: Iterable[object]) -> None:
    """Train ``table``'s dictionary on ``samples`` (plain texts; anything else is
    skipped), once: a dictionary is never replaced, as texts packed with it must stay
    readable."""
    if table in _BY_TABLE:
        return
    plain: list[bytes | bytearray | memoryview] = [
        s.encode() for s in samples if isinstance(s, str) and len(s) >= _SHORTEST
    ]
    codec = None
    if len(_BY_TAG) < _MAX_DICTIONARIES and plain:
        try:
            dictionary = zstandard.train_dictionary(_DICTIONARY_BYTES, plain, level=_LEVEL)
        except zstandard.ZstdError as error:  # too few or too alike: stays plain
            log.debug("no dictionary learned for table %s: %s", table, error)
        else:
            codec = _Codec(len(_BY_TAG), dictionary)
            _BY_TAG.append(codec)
    _BY_TABLE[table] = codec


def squeeze(table: str | None, text: bytes) -> str | bytes:
    """``text`` (compact JSON, as orjson writes it) as kept: compressed with ``table``'s
    dictionary once it has one, plain otherwise."""
    codec = _BY_TABLE.get(table) if table is not None else None
    if codec is None or len(text) < _SHORTEST:
        return text.decode()
    return codec.compress(text)


def expand(packed: str | bytes) -> str:
    """The plain text of what ``squeeze`` returned."""
    if isinstance(packed, str):
        return packed
    return _BY_TAG[packed[0]].decompress(packed).decode()
