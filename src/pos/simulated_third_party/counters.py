"""Call counters that survive a restart, kept in a memory-mapped file.

``/stats`` has to prove the pipeline's exactly-once effect across crashes of this
process too, so ``received`` and ``duplicates`` may not start again from zero when it is
killed and restarted. A counter is a little-endian int64 in a shared mapping of a small
file: an increment is a memory write (no system call, so thousands of calls a second cost
nothing), and the written page belongs to the kernel's page cache, which outlives a
SIGKILL of this process. As with the receipts, only a power cut could lose the last
increments.

The layout is the order of ``FIELDS``; new counters are only ever appended, and a shorter
file from an older version is extended with zeros.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

FIELDS = (
    "received",  # every POST /orders, whatever its answer
    "duplicates",  # accepted again: the first receipt replayed, no second delivery
    "refused",
    "errors",
    "timeouts",
    "conflicts",
    "overridden",
)
_SLOT = struct.Struct("<q")
_INDEX = {name: i * _SLOT.size for i, name in enumerate(FIELDS)}
_SIZE = len(FIELDS) * _SLOT.size


class Counters:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the file open

    def add(self, name: str, amount: int = 1) -> None:
        offset = _INDEX[name]
        (value,) = _SLOT.unpack_from(self._map, offset)
        _SLOT.pack_into(self._map, offset, value + amount)

    def get(self, name: str) -> int:
        value: int = _SLOT.unpack_from(self._map, _INDEX[name])[0]
        return value

    def snapshot(self) -> dict[str, int]:
        return {name: self.get(name) for name in FIELDS}

    def clear(self) -> None:
        self._map[:_SIZE] = bytes(_SIZE)

    def close(self) -> None:
        self._map.close()


def counters_path(store_path: Path) -> Path:
    """The counters file beside the receipt file: ``receipts.jsonl`` -> ``receipts.counters``."""
    return store_path.with_suffix(".counters")
