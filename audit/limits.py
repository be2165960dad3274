"""How large an input file the loader may take on, and how to say that a file is too large.

Question answered: may the loader hold this file in memory? The loader keeps a file as
text cells, about eight times its size on disk (measured: a 151 MB, 1.06 M-row responses
CSV peaks at 1.2 GB, imports included; an 88 MB, 1 M-row interactions CSV at 0.65 GB), and
the checks need about as much again. A file over the byte limit (its size once uncompressed, for XLSX
and Parquet) or the row limit is refused with an `InputError` naming the file, the limit
and the setting that raises it, before the memory is spent where the size is known up
front, and right after reading otherwise.

An interactions file that DuckDB reads column by column (a plain CSV or Parquet file of
64 MB or more, `audit.population_file`) is never held in memory and is not subject to
these limits; one that the loader must read after all is.
"""
from __future__ import annotations

import functools
import gc
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.errors import InputError

MB = 2**20
DEFAULT_MAX_BYTES = 256 * MB        # ~2 GB while loading, ~8 GB for the whole audit
DEFAULT_MAX_ROWS = 2_000_000        # the 1.06 M-row benchmark audit peaks at 1.4 GB (benchmarks/README.md)
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": MB, "mb": MB, "g": 2**30, "gb": 2**30}


@dataclass(frozen=True)
class Limits:
    """Largest file (bytes, uncompressed) and most data rows one input file may have; None = no limit.

    ``raise_bytes``/``raise_rows`` name the setting that raises each limit where the
    caller offers one (a CLI option, an app setting); errors quote them."""

    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_rows: int | None = DEFAULT_MAX_ROWS
    raise_bytes: str = "Limits(max_bytes=...)"
    raise_rows: str = "Limits(max_rows=...)"

    def check_source(self, source: Any, name: str) -> None:
        """Refuse a file over the byte limit (on disk, or once uncompressed) before it is read;
        a Parquet file over the row limit too, from the row count in its footer."""
        if self.max_bytes is not None:
            stored = _stored_size(source)
            if stored is not None and stored > self.max_bytes:
                raise self._too_large(name, f"the file is {human_bytes(stored)}")
        kind, opened = _compressed(source)
        if kind == "zip":
            try:
                with zipfile.ZipFile(opened) as book:
                    size = sum(item.file_size for item in book.infolist())
            except (zipfile.BadZipFile, OSError, ValueError):
                return      # the loader says what is wrong with the workbook
            if self.max_bytes is not None and size > self.max_bytes:
                raise self._too_large(name, f"the workbook holds {human_bytes(size)} once uncompressed")
        elif kind == "parquet":
            import pyarrow.parquet as pq

            try:
                meta = pq.ParquetFile(opened).metadata
            except Exception:   # pyarrow raises ArrowInvalid/OSError/...; the loader reports the damage
                return
            size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if self.max_bytes is not None and size > self.max_bytes:
                raise self._too_large(name, f"the file holds {human_bytes(size)} once uncompressed")
            self.check_rows(meta.num_rows, name)

    def check_rows(self, rows: int, name: str) -> None:
        """Refuse a file with more data rows than the row limit."""
        if self.max_rows is not None and rows > self.max_rows:
            raise InputError(f"{rows:,} data rows, over the limit of {self.max_rows:,} rows for one input file; "
                             f"raise it with {self.raise_rows} if the machine has the memory "
                             f"(a million responses take about 2.5 GB to audit)", file=name)

    def _too_large(self, name: str, what: str) -> InputError:
        return InputError(f"{what}, over the limit of {human_bytes(self.max_bytes or 0)} for one input file; "
                          f"raise it with {self.raise_bytes} if the machine has the memory "
                          f"(loading takes about 8 times the file's size)", file=name)


NO_LIMITS = Limits(max_bytes=None, max_rows=None)


def human_bytes(n: int) -> str:
    """A byte count as people read it: 256 MB, 2.1 GB (binary units, as Streamlit's maxUploadSize)."""
    for unit, size in (("GB", 2**30), ("MB", MB), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 100 else f"{value:.1f} {unit}"
    return f"{n} bytes"


def parse_bytes(text: str) -> int | None:
    """'256MB', '2GB', '1.5g', '1048576' -> bytes (binary units); '0' or 'none' -> None (no limit)."""
    if str(text).strip().lower() == "none":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", str(text).lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"{text!r} is not a size (expected e.g. 256MB, 2GB or a number of bytes)")
    value = int(float(match.group(1)) * _UNITS[match.group(2)])
    return value or None


def _stored_size(source: Any) -> int | None:
    """Bytes of a path on disk, a bytes object or an uploaded file; None when unknown (a stream, a frame)."""
    if isinstance(source, (str, Path)):
        try:
            return os.stat(source).st_size
        except OSError:
            return None     # the loader reports the unreadable path
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source).nbytes
    if hasattr(source, "getbuffer"):               # io.BytesIO, Streamlit's UploadedFile
        with source.getbuffer() as view:
            return view.nbytes
    return None


def _compressed(source: Any) -> tuple[str | None, Any]:
    """('zip' | 'parquet' | None, something zipfile/pyarrow can open without reading it all)."""
    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as handle:
                head = handle.read(4)
        except OSError:
            return None, None
        opened: Any = str(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        head, opened = bytes(source[:4]), io.BytesIO(source)
    elif hasattr(source, "getvalue"):
        data = source.getvalue()
        head, opened = bytes(data[:4]), io.BytesIO(data)
    else:
        return None, None
    if head == b"PK\x03\x04":
        return "zip", opened
    if head == b"PAR1":
        return "parquet", opened
    return None, None


def use_system_allocator() -> None:
    """Make Arrow allocate through the C library's malloc rather than its bundled mimalloc.

    For the process that runs audits (the CLI, the app's server); call it before loading.
    mimalloc keeps partly used segments that `return_freed_memory` cannot hand back: after the
    1.06M responses are read the process held 0.81 GB with it for a 0.28 GB frame (0.2 GB of
    imports), and the whole scale-1 benchmark audit peaked at 1.73 GB against 1.50 GB with
    malloc, no slower (benchmarks/README.md)."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def return_freed_memory(*, collect: bool = False) -> None:
    """Hand the memory that pandas and Arrow have freed back to the operating system.

    Arrow's allocator and glibc's malloc keep freed pages for reuse, so after the responses
    are read the process holds ~1.1 GB for a 0.28 GB frame (1.06M responses) and every later
    stage starts from there. Releasing them between stages lowers the audit's peak RSS;
    where glibc is not the C library (macOS, musl) only Arrow's pool is released.

    `collect`: a full garbage collection first. Fitted models and pandas objects hold
    reference cycles, and the frames those cycles reach (~0.3 GB after the propensity
    checks at 1M responses) would otherwise wait for Python's next full collection, checks
    later; but in a process with many live objects (a test session) it costs ~0.1 s a time."""
    import pyarrow as pa

    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None where the C library has none; looked up once (the
    search for the library can start `ldconfig`), not at each of the audit's 18 releases."""
    import ctypes
    import ctypes.util

    libc = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
