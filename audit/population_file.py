"""Read a large interactions file straight into the SQL engine, without pandas.

Question answered: can this CSV or Parquet file be typed by the engine itself, with the
loader's exact semantics? The loader (`audit.loading.load_population`) reads the first
megabyte to decide the header mapping and each column's kind; the engine then reads the
whole file once, typing every column the way the loader would (trimmed text, "" as
missing; numbers only where the loader's number pattern matches; yes/no flags as 0/1),
and writes it to a compressed columnar copy in its private working directory. The same
pass counts what the loader would have treated specially: unreadable numbers, invalid
flags, missing or repeated interaction ids. Any of those, or anything the sample shows as
unusual (another export format, decimal commas, item columns), sends the file back to the
careful loader, whose ledger names every row. So the fast path never changes a result;
it only avoids holding millions of rows as Python objects.
"""
from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Collection, Mapping

import pandas as pd

from audit.engine import Engine
from audit.errors import InputError
from audit.loading import _FALSE, _NUMBER, _TRUE, LoadedTable, load_population

FAST_PATH_BYTES = 64 * 2**20        # smaller files are read by the loader: it is fast enough and gives the full ledger
SAMPLE_BYTES = 2**20
HASH_CHUNK = 8 * 2**20


@dataclass(frozen=True)
class RegisteredPopulation:
    """An interactions table that lives in the engine as the view `population`.

    ``table`` carries the ledger (rows read, mapping, notes, sha256); its ``frame`` has the
    columns and dtypes but no rows. ``alias`` maps each column to its name in the view,
    ``kinds`` to "number" | "flag" | "text" | "time"."""

    table: LoadedTable
    alias: dict[str, str]
    kinds: dict[str, str]


def _sha256(path: Path, out: dict[str, str]) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    out["sha256"] = digest.hexdigest()


def _sample_bytes(path: Path, file_format: str) -> bytes:
    """The file's first rows, in its own format, for the loader to map and type."""
    if file_format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=5000), None)
        if batch is None:
            return b""
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_batches([batch]), sink)
        return sink.getvalue()
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    return head[: head.rfind(b"\n") + 1] if len(head) == SAMPLE_BYTES else head


def _typed(engine: Engine, header: str, kind: str, source_type: str) -> tuple[str, str | None]:
    """(typed SQL value, SQL condition that the loader would read the cell differently or not at all)."""
    col = engine.quote_identifier(header)
    if kind == "time" or (kind == "number" and source_type != "text"):
        return (f"CAST({col} AS DOUBLE)" if kind == "number" else col), None
    text = f"TRIM(CAST({col} AS VARCHAR))"
    if kind == "flag":
        # a simple CASE, not IN lists: DuckDB plans an IN list of five or more constants (and
        # list_contains) as a join with a constant table, whose output is out of the file's order
        # even on one thread
        codes = [(v, 1) for v in sorted(_TRUE)] + [(v, 0) for v in sorted(_FALSE)]
        value = f"CASE LOWER({text}) " + " ".join(f"WHEN '{v}' THEN {code}" for v, code in codes) + " END"
        return f"CAST({value} AS TINYINT)", f"({value}) IS NULL"
    if kind == "number":
        match = f"regexp_full_match({text}, '{_NUMBER.pattern.lstrip('^').rstrip('$')}')"
        return (f"CASE WHEN {match} THEN CAST({text} AS DOUBLE) END",
                f"({col} IS NOT NULL AND {text} <> '' AND NOT {match})")
    return f"NULLIF({text}, '')", None


def open_population_file(source: Any, engine: Engine, *, mapping: Mapping[str, str] | None = None,
                         name: str | None = None, min_bytes: int = FAST_PATH_BYTES,
                         unread: Collection[str] = ()) -> RegisteredPopulation | None:
    """Register a large plain CSV/Parquet interactions file in `engine` as the view `population`
    with the loader's typing, or return None when the careful loader must read it.

    `unread`: columns (canonical names) no aggregate will read, left out of the copy. Writing
    10M distinct interaction times as text cost ~0.6 s of the ~9 s copy, for responses that
    carry their own (`audit.data.unread_population_columns`)."""
    if not isinstance(source, (str, Path)) or getattr(engine, "name", "") != "duckdb":
        return None
    path = Path(source)
    file_format = {".csv": "csv", ".parquet": "parquet"}.get(path.suffix.lower())
    if file_format is None or not path.is_file() or path.stat().st_size < min_bytes:
        return None
    name = name or path.name
    try:
        sample = load_population(_sample_bytes(path, file_format), mapping=mapping, name=name)
    except InputError:
        return None
    if (sample.export_format != "table" or sample.dropped or sample.flagged
            or any("decimal comma" in n for n in sample.notes)
            or any(str(c).startswith("q_") for c in sample.frame.columns)):
        return None
    engine.register_file("population_raw", str(path), file_format)
    raw = engine.query("SELECT * FROM population_raw LIMIT 0")
    original = {canonical: header for canonical, header in sample.mapping.items()}
    columns = [c for c in sample.frame.columns if c != "_source_row"]
    headers = {c: original.get(c, c) for c in columns}
    if set(headers.values()) - set(raw.columns) or len(raw.columns) != len(columns):
        return None
    columns = [c for c in columns if c not in unread]
    source_types = {c: "text" if file_format == "csv" or not pd.api.types.is_numeric_dtype(raw[headers[c]])
                    or pd.api.types.is_bool_dtype(raw[headers[c]]) else "number" for c in columns}
    kinds = {}
    for c in columns:
        dtype = sample.frame[c].dtype
        kinds[c] = ("flag" if c in ("invited", "responded") else "time" if pd.api.types.is_datetime64_any_dtype(
            raw[headers[c]]) else "number" if pd.api.types.is_float_dtype(dtype) else "text")
    if any(source_types[c] == "number" and kinds[c] == "text" for c in columns if c not in ("interaction_id",
                                                                                          "agent_id")):
        return None
    alias = {c: f"c{i}" for i, c in enumerate(columns)}
    select, bad = [], []
    for c in columns:
        value, invalid = _typed(engine, headers[c], kinds[c], source_types[c])
        select.append(f"{value} AS {alias[c]}")
        bad += [invalid] if invalid else []
    flags = " + ".join(f"CASE WHEN {b} THEN 1 ELSE 0 END" for b in bad) or "0"
    digest: dict[str, str] = {}
    hasher = threading.Thread(target=_sha256, args=(path, digest))
    hasher.start()
    try:
        engine.materialise("population", f"SELECT {', '.join(select)}, {flags} AS _bad FROM population_raw")
        # counts only, so any thread order gives the same answer: on both threads the distinct
        # ids of 10M interactions take ~1 s less, and the extra ~40 MB stay below the audit's peak
        check = engine.query(f"SELECT COUNT(*) AS n, COUNT({alias['interaction_id']}) AS ids, "
                             f"COUNT(DISTINCT {alias['interaction_id']}) AS distinct_ids, SUM(_bad) AS bad "
                             f"FROM population", order_free=True).iloc[0]
    finally:
        hasher.join()
    n = int(check["n"])
    if int(check["ids"]) != n or int(check["distinct_ids"]) != n or int(check["bad"] or 0) or n == 0:
        return None
    table = replace(sample, frame=sample.frame.iloc[:0], rows_read=n, sha256=digest.get("sha256"),
                    notes=sample.notes + ("read by the SQL engine column by column (no row needed special handling)",))
    return RegisteredPopulation(table=table, alias=alias, kinds=kinds)
