"""The SQL engines: DuckDB (embedded) and Spark run the same SQL and give the same answers.

Every behaviour is checked on both engines (the `engine` fixture is parametrised over them),
against pandas or numpy computed inside the test; one test runs one query on both and
compares the result frames. Spark starts once for the module (a local[2] session, ~10 s).
Without pyspark the Spark cases are skipped, except under CI, where they fail: CI installs
requirements-dev.txt, so a missing pyspark there is a broken install, not an option.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.engine import DuckDBEngine

PROBABILITIES = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
UNDER_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


# ------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark_engine():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if UNDER_CI:
            pytest.fail("pyspark is not installed, but CI installs requirements-dev.txt: the install is broken")
        pytest.skip("pyspark is not installed (pip install -r requirements-dev.txt): Spark engine untested")
    from audit.engine_spark import SparkEngine

    engine = SparkEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def duckdb_engine():
    engine = DuckDBEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def engine(request):
    return request.getfixturevalue(f"{request.param}_engine")


def interactions() -> pd.DataFrame:
    """A small interactions table: text with gaps (both pandas string flavours), int8 flags,
    floats with NaN, nullable integers and booleans."""
    rng = np.random.default_rng(7)
    n = 240
    segment = pd.Series(rng.choice(["phone", "chat", "email"], n))
    return pd.DataFrame({
        "id": [f"i{k:03d}" for k in range(n)],
        "customer": [f"c{k % 60:02d}" for k in range(n)],
        "segment": segment.where(rng.random(n) > 0.1),                           # str, NaN
        "region": pd.Series(rng.choice(["north", "south"], n), dtype="string")
                    .mask(rng.random(n) < 0.1),                                  # string, pd.NA
        "invited": rng.integers(0, 2, n).astype("int8"),
        "visits": pd.Series(rng.integers(1, 5, n), dtype="Int64").mask(rng.random(n) < 0.1),
        "vip": rng.random(n) < 0.3,
        "consent": pd.Series(rng.random(n) < 0.5, dtype="boolean").mask(rng.random(n) < 0.1),
        "wait": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(3.0, n)),
    })


def is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def rows(frame: pd.DataFrame) -> list[tuple]:
    """The cells as plain Python values, every missing value as None."""
    return [tuple(None if is_missing(v) else v for v in row)
            for row in frame.astype(object).itertuples(index=False, name=None)]


def write_csv(tmp_path, text: str):
    path = tmp_path / "interactions.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


CSV = ('id,name,score,note\n'
       '1,"Smith, J",007,NA\n'
       '2,,1.50,"said ""hi"""\n'
       '3,"",x,\n')


# ------------------------------------------------------------------------------------------
# registering a pandas frame
# ------------------------------------------------------------------------------------------
def test_group_by_counts_and_sums_match_pandas(engine):
    frame = interactions()
    engine.register("t", frame)
    got = engine.query("SELECT segment, COUNT(*) AS n, SUM(invited) AS invited, COUNT(wait) AS known, "
                       "SUM(wait) AS wait FROM t GROUP BY segment")
    want = frame.groupby("segment", dropna=False).agg(
        n=("id", "size"), invited=("invited", "sum"), known=("wait", "count"), wait=("wait", "sum"))
    got = got.set_index(got["segment"].astype(object).where(got["segment"].notna(), None)).drop(columns="segment")
    want.index = want.index.astype(object).where(want.index.notna(), None)
    got, want = got.sort_index(key=lambda i: i.map(str)), want.sort_index(key=lambda i: i.map(str))
    assert list(got.index) == list(want.index)
    for column in ("n", "invited", "known"):
        assert got[column].astype("int64").tolist() == want[column].astype("int64").tolist(), column
    np.testing.assert_allclose(got["wait"].astype(float), want["wait"], rtol=1e-12)


def test_missing_values_of_every_dtype_register_as_null(engine):
    frame = interactions()
    engine.register("t", frame)
    columns = ["segment", "region", "visits", "consent", "wait"]
    got = engine.query("SELECT " + ", ".join(f"COUNT({c}) AS {c}" for c in columns) + " FROM t").iloc[0]
    assert {c: int(got[c]) for c in columns} == {c: int(frame[c].notna().sum()) for c in columns}


def test_registered_frame_reads_back_unchanged(engine):
    frame = interactions()
    engine.register("t", frame)
    got = engine.query("SELECT * FROM t ORDER BY id")
    assert list(got.columns) == list(frame.columns)
    assert rows(got) == rows(frame)


def test_registered_columns_keep_their_kind(engine):
    engine.register("t", interactions())
    got = engine.query("SELECT * FROM t")
    kinds = {c: ("text" if pd.api.types.is_string_dtype(got[c]) else
                 "flag" if pd.api.types.is_bool_dtype(got[c]) else
                 "integer" if pd.api.types.is_integer_dtype(got[c]) else
                 "float" if pd.api.types.is_float_dtype(got[c]) else str(got[c].dtype)) for c in got.columns}
    assert kinds == {"id": "text", "customer": "text", "segment": "text", "region": "text", "invited": "integer",
                     "visits": "integer", "vip": "flag", "consent": "flag", "wait": "float"}


def test_an_empty_frame_registers_as_an_empty_table(engine):
    engine.register("none", pd.DataFrame({"customer": pd.Series([], dtype="string")}))
    assert int(engine.query("SELECT COUNT(*) AS n FROM none")["n"].iloc[0]) == 0


def test_materialised_query_reads_back_as_a_table(engine):
    frame = interactions()
    engine.register("t", frame)
    engine.materialise("invited_only", "SELECT id, wait FROM t WHERE invited = 1")
    got = engine.query("SELECT * FROM invited_only ORDER BY id")
    assert rows(got) == rows(frame.loc[frame["invited"] == 1, ["id", "wait"]].sort_values("id"))


def test_materialised_empty_result_is_an_empty_table(engine):
    engine.register("t", interactions())
    engine.materialise("nothing", "SELECT id, wait FROM t WHERE wait < 0")
    got = engine.query("SELECT * FROM nothing")
    assert (len(got), list(got.columns)) == (0, ["id", "wait"])


# ------------------------------------------------------------------------------------------
# quantiles
# ------------------------------------------------------------------------------------------
def test_quantile_sql_is_numpy_linear_interpolation(engine):
    frame = interactions()
    engine.register("t", frame)
    got = engine.query(f"SELECT {engine.quantile_sql('wait', PROBABILITIES)} AS q FROM t")["q"].iloc[0]
    want = np.quantile(frame["wait"].dropna().to_numpy(), PROBABILITIES)
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=1e-12, atol=1e-12)


def test_quantile_of_no_rows_is_missing(engine):
    engine.register("t", interactions())
    got = engine.query(f"SELECT {engine.quantile_sql('wait', PROBABILITIES)} AS q FROM t WHERE wait < 0")
    assert is_missing(got["q"].iloc[0])


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------
def test_csv_file_gives_the_rows_pandas_reads_as_text(engine, tmp_path):
    path = write_csv(tmp_path, CSV)
    engine.register_file("f", str(path), "csv")
    want = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    assert rows(engine.query("SELECT * FROM f ORDER BY id")) == rows(want)


def test_csv_values_arrive_as_written(engine, tmp_path):
    engine.register_file("f", str(write_csv(tmp_path, CSV)), "csv")
    got = engine.query("SELECT name, score, note FROM f ORDER BY id")
    assert rows(got)[0] == ("Smith, J", "007", "NA")             # no number parsing, no NA guessing
    assert rows(got)[1][2] == 'said "hi"'


def test_csv_empty_cell_quoted_or_not_is_null(engine, tmp_path):
    engine.register_file("f", str(write_csv(tmp_path, CSV)), "csv")
    got = engine.query("SELECT id FROM f WHERE name IS NULL ORDER BY id")
    assert got["id"].tolist() == ["2", "3"]


def test_parquet_file_gives_the_rows_pandas_reads(engine, tmp_path):
    path = tmp_path / "interactions.parquet"
    interactions().to_parquet(path)
    engine.register_file("f", str(path), "parquet")
    assert rows(engine.query("SELECT * FROM f ORDER BY id")) == rows(pd.read_parquet(path))


def test_parquet_nanosecond_timestamps_are_readable(engine, tmp_path):
    path = tmp_path / "times.parquet"
    times = pd.to_datetime(["2024-03-01 09:30:00.123456", None, "2024-03-02 17:00:00"], format="ISO8601").astype("datetime64[ns]")
    pd.DataFrame({"id": ["a", "b", "c"], "answered": times}).to_parquet(path)
    engine.register_file("f", str(path), "parquet")
    got = engine.query("SELECT answered FROM f ORDER BY id")["answered"]
    assert rows(got.to_frame()) == rows(pd.DataFrame({"answered": times}))


# ------------------------------------------------------------------------------------------
# the shared SQL subset
# ------------------------------------------------------------------------------------------
def test_try_cast_of_text_that_is_no_number_is_null(engine):
    got = engine.query("SELECT TRY_CAST('x' AS DOUBLE) AS a, TRY_CAST('' AS DOUBLE) AS b, "
                       "TRY_CAST(' 2.5 ' AS DOUBLE) AS c").iloc[0]
    assert is_missing(got["a"]) and is_missing(got["b"]) and float(got["c"]) == 2.5


def test_cast_to_string_is_spelled_string(engine):
    assert engine.query("SELECT CAST(7 AS STRING) AS s")["s"].iloc[0] == "7"


def test_backticks_quote_identifiers(engine):
    engine.register("t", pd.DataFrame({"first name": ["Ann"], "select": [1]}))
    got = engine.query("SELECT `first name` AS name, `select` + 1 AS next FROM t").iloc[0]
    assert (got["name"], int(got["next"])) == ("Ann", 2)


def test_doubled_single_quote_is_a_quote_in_a_literal(engine):
    assert engine.query("SELECT 'O''Brien' AS s")["s"].iloc[0] == "O'Brien"


def test_slash_divides_as_floating_point(engine):
    assert float(engine.query("SELECT 7 / 2 AS q")["q"].iloc[0]) == 3.5


def test_count_is_a_64_bit_integer(engine):
    engine.register("t", interactions())
    assert engine.query("SELECT COUNT(*) AS n FROM t")["n"].dtype == np.dtype("int64")


# ------------------------------------------------------------------------------------------
# Spark only: the session
# ------------------------------------------------------------------------------------------
def test_a_local_session_keeps_its_warehouse_folder_out_of_the_working_directory(spark_engine):
    # Spark's default is ./spark-warehouse, made when the session starts
    warehouse = spark_engine.session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert Path(warehouse).resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not Path(warehouse).resolve().is_relative_to(Path.cwd().resolve())


def test_engine_on_a_running_session_leaves_it_running(spark_engine):
    from audit.engine_spark import SparkEngine

    borrowed = SparkEngine()                      # the module's session is active: forked, not started
    borrowed.register("mine", pd.DataFrame({"x": [1]}))
    borrowed.close()
    assert int(spark_engine.query("SELECT 1 AS one")["one"].iloc[0]) == 1
    assert "mine" not in {t.name for t in spark_engine.session.catalog.listTables()}


# ------------------------------------------------------------------------------------------
# both engines, one query
# ------------------------------------------------------------------------------------------
def test_duckdb_and_spark_agree_on_a_cell_query(duckdb_engine, spark_engine):
    frame = interactions()
    frame["raw"] = pd.Series(np.where(np.arange(len(frame)) % 7 == 0, "n/a", (np.arange(len(frame)) % 11).astype(str)))
    frame["segment"] = frame["segment"].str.upper().radd(" ")           # stray case and blanks
    responses = pd.DataFrame({"iid": frame["id"].iloc[::3].to_numpy()})
    scope = pd.DataFrame({"v": ["c01", "c02", "c03", "c10", "c59"]})
    results = []
    for engine in (duckdb_engine, spark_engine):
        engine.register("population", frame)
        engine.register("response_ids", responses)
        engine.register("scope_values", scope)
        sql = (
            "WITH pop AS (SELECT p.id, LOWER(TRIM(p.segment)) AS segment, COALESCE(CAST(p.invited AS INT), 0) AS invited, "
            "CASE WHEN r.iid IS NULL THEN 0 ELSE 1 END AS has_response, "
            "CASE WHEN p.customer IN (SELECT v FROM scope_values) THEN 1 ELSE 0 END AS in_scope, "
            "CAST(p.wait AS DOUBLE) AS wait, TRY_CAST(p.raw AS DOUBLE) AS score, "
            "ROW_NUMBER() OVER (PARTITION BY p.customer ORDER BY p.id) AS visit "
            "FROM population p LEFT JOIN response_ids r ON p.id = r.iid) "
            "SELECT COALESCE(segment, '(missing)') AS segment, invited, COUNT(*) AS n, COUNT(DISTINCT id) AS ids, "
            "SUM(has_response) AS responses, SUM(in_scope) AS in_scope, "
            "SUM(CASE WHEN wait > 1.5 THEN 1 ELSE 0 END) AS slow, SUM(wait) AS wait_sum, "
            "SUM((wait - 3.0) * (wait - 3.0)) AS wait_sq, MIN(score) AS score_min, MAX(score) AS score_max, "
            "COUNT(score) AS scored, SUM(CASE WHEN visit = 1 THEN 1 ELSE 0 END) AS first_visits, "
            f"{engine.quantile_sql('wait', PROBABILITIES)} AS wait_q "
            "FROM pop GROUP BY 1, 2")
        results.append(engine.query(sql).sort_values(["segment", "invited"]).reset_index(drop=True))
    duck, spark = results
    assert list(duck.columns) == list(spark.columns)
    assert duck["segment"].tolist() == spark["segment"].tolist()
    numbers = [c for c in duck.columns if c not in ("segment", "wait_q")]
    np.testing.assert_allclose(duck[numbers].to_numpy(dtype=float), spark[numbers].to_numpy(dtype=float), rtol=1e-9)
    np.testing.assert_allclose(np.stack(duck["wait_q"].to_list()), np.stack(spark["wait_q"].to_list()), rtol=1e-9)


@pytest.mark.parametrize("where", ["", "WHERE range > 100"])
def test_duckdb_query_frames_match_duckdbs_own_conversion(duckdb_engine, where):
    # reference: DuckDB's .df() of the same query; text columns come through Arrow directly
    sql = (f"SELECT range::VARCHAR AS s, CASE WHEN range % 2 = 0 THEN NULL ELSE 'x' END AS ns, range AS i, "
           f"CASE WHEN range % 3 = 0 THEN NULL ELSE range END AS ni, range * 0.5 AS dec, "
           f"CAST(range AS DOUBLE) / 3 AS d, CAST(range % 2 AS TINYINT) AS ti, [range, 1.5] AS l, "
           f"range > 3 AS b FROM range(7) {where}")
    _assert_query_matches_duckdbs_own_conversion(duckdb_engine, sql)


def _assert_query_matches_duckdbs_own_conversion(engine, sql: str) -> None:
    expected = engine._con.execute(sql).df()
    got = engine.query(sql)
    pd.testing.assert_frame_equal(got, expected)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()


def test_text_columns_asked_as_categories_are_duckdbs_conversion_as_categoricals(duckdb_engine):
    # reference: DuckDB's .df(), then astype("category") of the whole column; 2.5 batches,
    # each holding other levels ('b…' only from the second batch on, 'late' only in the last)
    from audit.engine import BATCH_ROWS

    n = BATCH_ROWS * 5 // 2
    sql = (f"SELECT CASE WHEN range % 7 = 0 THEN NULL WHEN range < {BATCH_ROWS} THEN 'a' || (range % 3)::VARCHAR "
           f"ELSE 'b' || (range % 4)::VARCHAR END AS seg, "
           f"CASE WHEN range < {2 * BATCH_ROWS} THEN NULL ELSE 'late' END AS sparse, "
           f"range::VARCHAR AS s, CAST(range AS DOUBLE) / 3 AS d FROM range({n})")
    got = duckdb_engine.query(sql, categories=["seg", "sparse"])
    expected = duckdb_engine._con.execute(sql).df()
    expected = expected.astype({"seg": "category", "sparse": expected["s"].dtype}).astype({"sparse": "category"})
    pd.testing.assert_frame_equal(got, expected)
    assert list(got["seg"].cat.categories) == ["a0", "a1", "a2", "b0", "b1", "b2", "b3"]


def test_a_result_without_rows_keeps_its_categories_columns(duckdb_engine):
    got = duckdb_engine.query("SELECT 'x' AS seg, 1 AS n WHERE 1 = 0", categories=["seg"])
    assert list(got.columns) == ["seg", "n"] and len(got) == 0
    assert isinstance(got["seg"].dtype, pd.CategoricalDtype)


def test_duckdb_query_results_of_many_batches_match_duckdbs_own_conversion(duckdb_engine):
    # reference: DuckDB's .df(); 2.5 batches of BATCH_ROWS rows are converted one at a time
    from audit.engine import BATCH_ROWS

    sql = (f"SELECT range::VARCHAR AS s, CASE WHEN range % 2 = 0 THEN NULL ELSE 'x' END AS ns, "
           f"CASE WHEN range < {BATCH_ROWS} THEN NULL ELSE 'late' END AS first_batch_missing, "
           f"CASE WHEN range % 3 = 0 THEN NULL ELSE range END AS ni, CAST(range AS DOUBLE) / 3 AS d "
           f"FROM range({BATCH_ROWS * 5 // 2})")
    assert len(duckdb_engine.query(sql)) == BATCH_ROWS * 5 // 2
    _assert_query_matches_duckdbs_own_conversion(duckdb_engine, sql)


def test_duckdb_runs_a_query_on_one_thread_unless_it_is_order_free():
    # one thread keeps sums of doubles byte-identical run to run; an order-free query may use all
    engine = DuckDBEngine(threads=2)
    try:
        setting = "SELECT current_setting('threads') AS t"
        assert int(engine.query(setting)["t"].iloc[0]) == 1
        assert int(engine.query(setting, order_free=True)["t"].iloc[0]) == 2
        assert int(engine.query(setting)["t"].iloc[0]) == 1
    finally:
        engine.close()


def test_an_order_free_query_on_two_threads_gives_the_one_thread_answer(tmp_path):
    # reference: the same query on one thread; distinct counts, integer sums, quantiles and a
    # filter's rows in the table's order over 600k rows of a Parquet file (several row groups)
    path = tmp_path / "t.parquet"
    n = 600_000
    rng = np.random.default_rng(3)
    pd.DataFrame({"id": [f"i{k}" for k in range(n)], "seg": rng.choice(["a", "b", "c"], n),
                  "x": rng.normal(size=n), "flag": rng.integers(0, 2, n)}).to_parquet(path, row_group_size=50_000)
    engine = DuckDBEngine(threads=2)
    try:
        engine.register_file("t", str(path), "parquet")
        sql = (f"SELECT seg, COUNT(DISTINCT id) AS ids, SUM(flag) AS flags, "
               f"{engine.quantile_sql('x', PROBABILITIES)} AS q FROM t GROUP BY seg ORDER BY seg")
        one, both = engine.query(sql), engine.query(sql, order_free=True)
        pd.testing.assert_frame_equal(one.drop(columns="q"), both.drop(columns="q"))
        np.testing.assert_array_equal(np.stack(one["q"].to_list()), np.stack(both["q"].to_list()))
        rows = "SELECT id FROM t WHERE flag = 1"
        pd.testing.assert_frame_equal(engine.query(rows), engine.query(rows, order_free=True))
    finally:
        engine.close()
