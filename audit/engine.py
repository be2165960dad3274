"""Where the interactions table lives while it is aggregated: DuckDB (embedded, default) or Spark.

The audit needs the population only as sufficient statistics (counts by segment ×
invited × responded, covariate sums and sums of squares by cell, the rows linked to a
response). `audit.aggregates` writes those queries once, in the SQL subset both engines
execute unchanged (SELECT / WHERE / GROUP BY / JOIN, COUNT, SUM, CASE, CAST ... AS DOUBLE);
an engine only has to register tables, run a query into a small pandas frame, and spell
the one function the two dialects name differently, an interpolated quantile. One shortcut
is optional: an engine that can read a flag column beside the rows (DuckDB's POSITIONAL
JOIN) saves every query its join on the response ids (`positional_flags`).
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

ENGINES = ("duckdb", "spark")
BATCH_ROWS = 131_072           # rows of a query result converted to pandas at a time


class Engine(Protocol):
    """What `audit.aggregates` needs from a SQL engine."""

    name: str

    def register(self, table: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame queryable as `table` (a temporary view)."""

    def register_file(self, table: str, path: str, file_format: str) -> None:
        """Make a CSV (header row, all columns as text) or Parquet file queryable as `table`."""

    def query(self, sql: str, *, categories: Sequence[str] = (), order_free: bool = False) -> pd.DataFrame:
        """Run one SELECT and return its (small) result; its text columns named in
        `categories` as pandas categoricals (categories sorted, as `astype("category")`).

        `order_free`: the result does not depend on the order rows are combined in (counts,
        sums of integers, distinct counts, quantiles, a filter's rows in the table's order),
        so the engine may spread it over all its threads. Sums of doubles are not: their
        last bits would vary from run to run."""

    def quantile_sql(self, column: str, probabilities: Sequence[float]) -> str:
        """SQL aggregate returning the linear-interpolation quantiles (numpy's default,
        Hyndman & Fan 1996 type 7) of `column` as one array value."""

    def quote_identifier(self, name: str) -> str:
        """A column name from a user's file, quoted for this dialect."""

    def materialise(self, table: str, sql: str) -> None:
        """Run `sql` once and keep its result queryable as `table` (columnar, spilled to the
        engine's private working directory rather than held in memory)."""

    def positional_flags(self, table: str, column: str, values: str, name: str) -> bool:
        """Register `name` with one column `flag` (1 where `table`'s `column` is among the `iid`
        values of table `values`, else 0) in `table`'s row order, for `POSITIONAL JOIN`; False
        where the engine cannot (no positional join, or `table` is not a materialised file),
        and the queries then join on the ids themselves."""

    def close(self) -> None:
        """Release the engine's memory and temporary files."""


@dataclass
class DuckDBEngine:
    """Embedded DuckDB: in-process, spills to a private temporary directory past `memory_limit`.

    Every file it writes (spilled intermediate results, `materialise`d copies) is in one
    folder of its own, created under `temp_directory` (default: the system's temporary
    folder) and removed by `close`."""

    memory_limit: str = "512MB"
    threads: int | None = None
    temp_directory: str | None = None
    name: str = "duckdb"
    _con: Any = field(default=None, repr=False)
    _workdir: str | None = field(default=None, repr=False)
    _threads: int = field(default=1, repr=False)
    _files: dict[str, str] = field(default_factory=dict, repr=False)    # materialised table → its Parquet file

    def __post_init__(self) -> None:
        import duckdb

        self._con = duckdb.connect(":memory:")
        self._con.execute(f"SET memory_limit = '{self.memory_limit}'")
        # insertion order is what makes "first row kept" and source row numbers mean the file's order
        self._con.execute("SET preserve_insertion_order = true")
        if self.threads:
            self._con.execute(f"SET threads = {int(self.threads)}")
        # file reading and the columnar copy (materialise) use them all
        self._threads = int(self._con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        # DuckDB's own default for an in-memory database is ".tmp" in the current directory,
        # where the spilled rows of every audit run from there would meet
        self._workdir = tempfile.mkdtemp(prefix="audit-duckdb-", dir=self.temp_directory)
        self._con.execute(f"SET temp_directory = '{_quoted(str(Path(self._workdir) / 'spill'))}'")

    def register(self, table: str, frame: pd.DataFrame) -> None:
        self._con.register(table, frame)

    def register_file(self, table: str, path: str, file_format: str) -> None:
        source = _quoted(str(Path(path)))
        if file_format == "parquet":
            reader = f"read_parquet('{source}')"
        else:
            reader = f"read_csv('{source}', header = true, all_varchar = true, auto_detect = true)"
        self._con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {reader}")

    def query(self, sql: str, *, categories: Sequence[str] = (), order_free: bool = False) -> pd.DataFrame:
        # one thread unless order_free: parallel partial sums of doubles are added in whatever order
        # the threads finish, so the last bits (and a byte-identical report.json) would vary run to run
        self._con.execute(f"SET threads = {self._threads if order_free else 1}")
        try:
            # read to its end before the setting changes back: the reader runs the query as it goes
            reader = self._con.sql(sql).to_arrow_reader(BATCH_ROWS)
            return _arrow_frame(self._con, reader, categories)
        finally:
            self._con.execute(f"SET threads = {self._threads}")

    def quantile_sql(self, column: str, probabilities: Sequence[float]) -> str:
        return f"quantile_cont({column}, [{', '.join(repr(float(p)) for p in probabilities)}])"

    def quote_identifier(self, name: str) -> str:
        return '"' + str(name).replace('"', '""') + '"'

    def materialise(self, table: str, sql: str) -> None:
        target = _quoted(str(Path(self._workdir) / f"{table}.parquet"))
        self._con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
        self._con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM read_parquet('{target}')")
        self._files[table] = target

    def positional_flags(self, table: str, column: str, values: str, name: str) -> bool:
        # Each aggregate query over 10M interactions spent ~0.6 s of its ~1 s re-joining the
        # 1M response ids; the positions of the matches, found once on both cores (a set, so
        # thread order does not matter), cost 0.3 s. The file's row numbers keep the flags
        # aligned with the rows whatever order the join finds them in.
        import pyarrow as pa

        target = self._files.get(table)
        if target is None:
            return False
        source = f"read_parquet('{target}', file_row_number = true)"
        positions = self._con.execute(f"SELECT s.file_row_number AS pos FROM {source} s SEMI JOIN {values} v "
                                      f"ON s.{column} = v.iid").fetchnumpy()["pos"]
        rows = int(self._con.execute(f"SELECT COUNT(*) FROM read_parquet('{target}')").fetchall()[0][0])
        flags = np.zeros(rows, dtype=np.int32)
        flags[positions] = 1
        self._con.register(name, pa.table({"flag": flags}))
        return True

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _arrow_frame(con: Any, batches: Any, categories: Sequence[str] = ()) -> pd.DataFrame:
    """DuckDB's own `.df()` of a query result, with its text columns converted from Arrow directly.

    `.df()` builds a Python string per text cell before pandas stores them in Arrow again:
    for the 1.05M rows linked to a response, 0.8 GB at its peak. Arrow's conversion gives the
    same pyarrow-backed string columns; every other column keeps `.df()`'s types (nullable
    integers as Int64, decimals as float, lists as arrays). `batches` (an Arrow record batch
    reader) is converted batch by batch, so that the result is never also whole in Arrow
    (peak 1.27 → 1.05 GB at those rows). Text columns named in `categories` become
    categoricals batch by batch, so that they are never whole as text either."""
    import pyarrow as pa

    schema = batches.schema
    # another cursor converts: the connection is busy with `batches` until it is read to its end
    con = con.cursor()
    text = [i for i, t in enumerate(schema.types) if pa.types.is_string(t) or pa.types.is_large_string(t)]
    coded = [i for i in text if schema.names[i] in set(categories)]
    other = [i for i in range(len(schema.names)) if i not in text]
    parts: list[pd.DataFrame] = []
    pieces: dict[int, list[pd.Series]] = {i: [] for i in coded}
    try:
        for batch in batches:
            rest = con.from_arrow(pa.Table.from_batches([batch.select(other)])).df() if other else None
            for i in coded:
                pieces[i].append(batch.column(i).to_pandas().astype("category"))
            parts.append(pd.DataFrame(
                {name: batch.column(i).to_pandas() if i in text else rest[name]
                 for i, name in enumerate(schema.names) if i not in coded}) if text else rest)
        if not parts:
            parts.append(con.from_arrow(schema.empty_table()).df().drop(columns=[schema.names[i] for i in coded]))
    finally:
        con.close()
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    for i in text:
        # a batch where a text column is all missing converts to object: the column is text
        # as a whole conversion would give it whenever another batch holds a value
        name = schema.names[i]
        if i in coded:
            frame.insert(i, name, _joined_categories(pieces.pop(i)))
            continue
        string = next((p[name].dtype for p in parts if isinstance(p[name].dtype, pd.StringDtype)), None)
        if string is not None and frame[name].dtype != string:
            frame[name] = frame[name].astype(string)
    return frame


def _joined_categories(pieces: list[pd.Series]) -> pd.Categorical:
    """One categorical of the batches' categoricals, in order, its categories the sorted union
    of theirs (as `astype("category")` of the whole column would give them)."""
    labels = sorted(set().union(*(p.cat.categories for p in pieces)))
    dtype = next((p.cat.categories.dtype for p in pieces if len(p.cat.categories)), "str")
    whole = pd.CategoricalDtype(pd.Index(labels, dtype=dtype))
    codes = np.concatenate([p.cat.set_categories(whole.categories).cat.codes.to_numpy() for p in pieces]
                           or [np.zeros(0, dtype=np.int8)])
    return pd.Categorical.from_codes(codes, dtype=whole)


def _quoted(text: str) -> str:
    """A value for a single-quoted SQL string literal."""
    return text.replace("'", "''")


def make_engine(name: str = "duckdb", **options: Any) -> Engine:
    """The engine called `name` ("duckdb" or "spark"); options go to its constructor."""
    if name == "duckdb":
        return DuckDBEngine(**options)
    if name == "spark":
        from audit.engine_spark import SparkEngine

        return SparkEngine(**options)
    raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")
