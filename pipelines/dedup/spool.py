"""Append-only records in an unlinked temporary file, and growable numpy columns: how
``newscrawl dedup`` keeps a few bytes of RAM per document and the rest on disk."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np


class Spool:
    """Append-only records (bytes) in an unlinked temporary file; RAM holds 12 bytes each."""

    def __init__(self, folder: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, buffering=0)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._offsets = Column(np.int64)
        self._lengths = Column(np.int32)
        self._end = 0

    def _write(self, data: bytes) -> int:
        """Write at the end of the file; returns where."""
        at = self._end
        written = os.pwrite(self._fd, data, at) if data else 0
        if written != len(data):
            raise OSError("short write to the dedup spool file")
        self._end += len(data)
        return at

    def append(self, data: bytes) -> int:
        self._offsets.append(self._write(data))
        self._lengths.append(len(data))
        return len(self._offsets) - 1

    def replace(self, index: int, data: bytes) -> None:
        """Point record ``index`` at new bytes (written at the end: the file only grows)."""
        self._offsets[index] = self._write(data)
        self._lengths[index] = len(data)

    def get(self, index: int) -> bytes:
        length = int(self._lengths[index])
        return os.pread(self._fd, length, int(self._offsets[index])) if length else b""

    def __len__(self) -> int:
        return len(self._offsets)

    def close(self) -> None:
        self._file.close()


class Column:
    """A growable numpy array (amortised doubling)."""

    def __init__(self, dtype: Any, fill: Any = 0) -> None:
        self._data = np.full(1024, fill, dtype=dtype)
        self._fill = fill
        self._size = 0

    def append(self, value: Any) -> None:
        if self._size == len(self._data):
            grown = np.full(len(self._data) * 2, self._fill, dtype=self._data.dtype)
            grown[: self._size] = self._data
            self._data = grown
        self._data[self._size] = value
        self._size += 1

    def __getitem__(self, index: int) -> Any:
        return self._data[index]

    def __setitem__(self, index: int, value: Any) -> None:
        self._data[index] = value

    def __len__(self) -> int:
        return self._size
