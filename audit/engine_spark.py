"""Spark as the aggregation engine: the same SQL as `DuckDBEngine`, run on a SparkSession.

Optional at run time (pyspark is a development requirement only); a cluster brings its own.
With no `master`, an active session (Databricks, a notebook on a cluster) is used through a
`newSession()` of it, so the engine's temporary views and SQL settings never leak into the
user's session; without one, a small local session is started (and stopped by `close`).

Dialect, as pinned by tests/test_engine.py (Spark 4, ANSI mode on as in DuckDB):

* `CAST(s AS DOUBLE)` of text that is not a number raises on both engines; `TRY_CAST` gives
  NULL on both (and trims blanks, reads 'NaN'/'inf' alike).
* `CAST(x AS STRING)` works on both; `CAST(x AS VARCHAR)` does not parse on Spark (it wants
  a length), `TEXT` neither.
* Identifiers: `quote_identifier` (backticks; DuckDB accepts backticks too); double-quoted
  identifiers are string literals on Spark.
* String literals: `'O''Brien'` is the same on both, but Spark reads a backslash as an escape
  ('a\\b' is 'a' + backspace there): keep backslashes out of literals.
* `/` is floating-point division on both; integer division has no shared spelling
  (DuckDB `//`, Spark `DIV`): use `FLOOR(a / b)`. Division by zero: DuckDB gives ±inf/NaN,
  Spark raises, so guard the denominator.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import pandas as pd
import pyarrow as pa

# SQL semantics, set on every session the engine queries (they are per-session settings).
SESSION_CONF = {
    "spark.sql.ansi.enabled": "true",              # Spark 4's default, pinned: bad casts and overflows raise, as in DuckDB
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",    # a naive pandas timestamp stays naive (DuckDB's TIMESTAMP)
}
# A small in-process Spark: what a laptop or a CI machine of 2 cores can afford.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",                 # loopback only: nothing listens on the machine's network
    "spark.driver.bindAddress": "127.0.0.1",
}
_UNSIGNED = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.int64()}
_NULLABLE = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
             pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


@contextmanager
def _quiet() -> Iterator[None]:
    """pyspark warns, when it starts, that it does not yet fully support pandas 3: the engine
    never hands it pandas (Arrow both ways), so the warning does not apply."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


@dataclass
class SparkEngine:
    """A SparkSession behind the `audit.engine.Engine` protocol.

    master: None uses the active session if there is one, else starts "local[2]"; any other
    value starts a session on that master (unless a SparkContext already runs in this process,
    which Spark then reuses). config: extra settings, given to the builder of a session the
    engine starts, or set on the engine's own fork of an existing one (runtime settings only).
    """

    master: str | None = None
    app_name: str = "survey-audit"
    config: dict[str, str] | None = None
    name: str = "spark"
    _spark: Any = field(default=None, repr=False)
    _owned: bool = field(default=False, repr=False)
    _views: set = field(default_factory=set, repr=False)
    _tmp: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is None and SparkContext._active_spark_context is not None:
            active = SparkSession.builder.getOrCreate()        # a context runs in this process already
        if active is not None:
            try:
                self._spark = active.newSession()              # own views and settings, the cluster's context
            except Exception:                                  # Spark Connect sessions cannot fork
                self._spark = active
            self._owned = False
        else:
            master = self.master or "local[2]"
            builder = SparkSession.builder.master(master).appName(self.app_name)
            # a local session makes its (unused) warehouse folder when it starts: in the engine's
            # scratch folder, removed by close, not in the user's working directory
            local = ({**LOCAL_CONF, "spark.sql.warehouse.dir": os.path.join(self._scratch(), "warehouse")}
                     if master.startswith("local") else {})
            settings = {**local, **SESSION_CONF, **(self.config or {})}
            for key, value in settings.items():
                builder = builder.config(key, value)
            with _quiet():
                self._spark = builder.getOrCreate()
            self._spark.sparkContext.setLogLevel("ERROR")
            self._owned = True
        if not self._owned:                                    # SQL settings are per session: set them on ours
            for key, value in {**SESSION_CONF, **(self.config or {})}.items():
                self._spark.conf.set(key, value)

    @property
    def session(self) -> Any:
        """The SparkSession the engine queries."""
        return self._spark

    # -- tables -----------------------------------------------------------------------
    def register(self, table: str, frame: pd.DataFrame) -> None:
        """`frame` as temporary view `table`. Missing values (None, NaN, pd.NA, NaT) become
        NULL, as DuckDB reads a pandas frame; text stays text, int8/Int64/bool/float keep
        their Spark counterparts; mixed-type object columns become text."""
        data = _arrow_table(frame)
        if self._local:                                      # a file Spark scans column-wise, off the JVM heap
            import pyarrow.parquet as pq

            path = os.path.join(self._scratch(), f"{table}-{len(os.listdir(self._scratch()))}.parquet")
            pq.write_table(data, path, row_group_size=1 << 20)
            df = self._spark.read.parquet(path)
        else:                                                # executors elsewhere: ship the rows
            with _quiet():
                df = self._spark.createDataFrame(data)
        self._view(table, df)

    def register_file(self, table: str, path: str, file_format: str) -> None:
        """A Parquet file, or a CSV file with a header row read entirely as text (no type
        inference: values arrive as written, quotes removed). An empty CSV cell, quoted or
        not, is NULL, as in DuckDB's reader. Quoted fields may hold commas, doubled quotes
        and line breaks; the delimiter is a comma (DuckDB sniffs it). `path` goes to Spark as
        given (a cluster path such as dbfs:/ works)."""
        path = os.fspath(path)
        reader = self._spark.read
        if file_format == "parquet":
            try:
                df = reader.parquet(path)
                df.schema                                      # resolve now: nanosecond timestamps fail here
            except Exception as error:
                if "TIMESTAMP(NANOS" not in str(error) or not os.path.isfile(path):
                    raise
                df = reader.parquet(self._microsecond_copy(path))
        elif file_format == "csv":
            df = reader.options(header="true", inferSchema="false", multiLine="true", escape='"',
                                encoding="UTF-8", mode="PERMISSIVE").csv(path)
        else:
            raise ValueError(f"unknown file format {file_format!r}: expected 'csv' or 'parquet'")
        self._view(table, df)

    @property
    def _local(self) -> bool:
        """Driver and executors share this machine's files (a local master)."""
        try:
            return str(self._spark.sparkContext.master).startswith("local")
        except Exception:                                    # Spark Connect: no context on this side
            return False

    def _scratch(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="audit-spark-")
        return self._tmp

    def _view(self, table: str, df: Any) -> None:
        df.createOrReplaceTempView(table)
        self._views.add(table)

    def _microsecond_copy(self, path: str) -> str:
        """A local copy of a Parquet file with nanosecond timestamps cut to microseconds
        (pandas writes nanoseconds; Spark cannot read them), row group by row group."""
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path)
        schema = pa.schema([f.with_type(pa.timestamp("us", f.type.tz))
                            if pa.types.is_timestamp(f.type) and f.type.unit == "ns" else f
                            for f in source.schema_arrow])
        target = os.path.join(self._scratch(), f"copy-{len(os.listdir(self._scratch()))}.parquet")
        with pq.ParquetWriter(target, schema) as writer:
            for batch in source.iter_batches():
                writer.write_table(pa.Table.from_batches([batch]).cast(schema, safe=False))
        return target

    # -- queries ------------------------------------------------------------------------
    def query(self, sql: str, *, categories: Sequence[str] = (), order_free: bool = False) -> pd.DataFrame:
        """Run one SELECT; the result as pandas the way DuckDB's `.df()` gives it: integer and
        boolean columns with NULLs as nullable Int64/boolean, DECIMAL as float64, arrays as
        numpy arrays per cell (None for a NULL array), naive timestamps as datetime64[us];
        text columns named in `categories` as categoricals. Spark always uses its whole
        cluster (`order_free` is for engines that otherwise keep to one thread)."""
        with _quiet():
            table = self._spark.sql(sql).toArrow()
        out = _pandas(table)
        for c in categories:
            if c in out.columns and pd.api.types.is_string_dtype(out[c]):
                out[c] = out[c].astype("category")
        return out

    def materialise(self, table: str, sql: str) -> None:
        """Run `sql` once and keep its result as view `table`: Parquet in the engine's scratch
        directory on a local master, a checkpoint on the executors (memory, then disk) otherwise."""
        df = self._spark.sql(sql)
        if self._local:
            path = os.path.join(self._scratch(), f"{table}-{len(os.listdir(self._scratch()))}.parquet")
            df.write.option("compression", "zstd").parquet(path)
            df = self._spark.read.parquet(path)
        else:
            df = df.localCheckpoint(eager=True)
        self._view(table, df)

    def positional_flags(self, table: str, column: str, values: str, name: str) -> bool:
        """Spark has no positional join: the queries join on the ids."""
        return False

    def quantile_sql(self, column: str, probabilities: Sequence[float]) -> str:
        """Spark's exact `percentile`: linear interpolation between order statistics (numpy's
        default). It counts every distinct value in a hash map: with 10M distinct values a
        column needs ~4g of driver memory in local mode (1g fails) and about 2 minutes."""
        return f"percentile({column}, array({', '.join(repr(float(p)) for p in probabilities)}))"

    @staticmethod
    def quote_identifier(name: str) -> str:
        """A column or table name as a quoted identifier (spaces, keywords, backticks)."""
        return "`" + str(name).replace("`", "``") + "`"

    def close(self) -> None:
        """Drop the engine's views; stop the session only if this engine started it."""
        if self._spark is None:
            return
        try:
            if self._owned:
                self._spark.stop()
            else:
                for table in self._views:
                    self._spark.catalog.dropTempView(table)
        finally:
            self._spark = None
            self._views.clear()
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


def _arrow_column(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    try:
        array = pa.Array.from_pandas(series)                 # NaN, None, pd.NA, NaT -> null
    except (pa.ArrowInvalid, pa.ArrowTypeError):             # mixed object column: text, as DuckDB reads it
        array = pa.array([None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
                          for v in series], type=pa.large_string())
    if array.type in _UNSIGNED:                              # Spark has no unsigned integers
        array = array.cast(_UNSIGNED[array.type])
    elif pa.types.is_null(array.type):                       # all missing: text
        array = array.cast(pa.large_string())
    elif pa.types.is_timestamp(array.type) and array.type.unit == "ns":
        array = array.cast(pa.timestamp("us", array.type.tz), safe=False)
    return array


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_arrays([_arrow_column(frame.iloc[:, i]) for i in range(frame.shape[1])],
                                names=[str(c) for c in frame.columns])


def _pandas(table: pa.Table) -> pd.DataFrame:
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_date(kind):
            column = column.cast(pa.timestamp("us"))
        if column.type in _NULLABLE and column.null_count:
            values = column.to_pandas(types_mapper=_NULLABLE.get)
        else:
            values = column.to_pandas()
        columns.append(values.reset_index(drop=True))
    out = pd.concat(columns, axis=1, ignore_index=True) if columns else pd.DataFrame(index=range(table.num_rows))
    out.columns = table.column_names
    return out

