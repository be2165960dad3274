"""Where does a large audit's time go, stage by stage, against one DuckDB scan of the same files?

    python benchmarks/audit_stages.py --scale 1            # 10M interactions, ~1.06M responses
    python benchmarks/audit_stages.py --scale 0.1 --reps 3

Uses the data of `large_audit.py` (generate it first: ``large_audit.py --scale S --generate-only``).
Each repetition, in one process: the DuckDB full-column scan of both files (large_audit's own
SQL, the ratio's denominator), then `run_audit` with each of its stages timed (the pipeline's
functions wrapped by name, so the stages are the real run's), then the report files. Two
floors are measured beside it, the least any exact audit of these files must spend reading
them with the loader's rules:

* the responses read by pyarrow's CSV reader into pandas, nothing checked or typed;
* the interactions typed once by the engine's own SQL (the copy's SELECT: trimmed text,
  numbers by the loader's pattern, yes/no flags), aggregated instead of written;
* the interactions read once more, untyped: the least the second pass costs (the exact
  cells need the quintile edges of the first).

The median over repetitions is printed with each stage as a multiple of the scan.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.csv as pacsv  # noqa: E402
from large_audit import DUCKDB_SCAN, measure  # noqa: E402

import audit.pipeline as pipeline  # noqa: E402
from audit.engine import DuckDBEngine  # noqa: E402
from audit.render import write_outputs  # noqa: E402

STAGES = {"load_responses": "read the responses (loader)",
          "open_population_file": "typed Parquet copy of the interactions",
          "prepare": "aggregates of the interactions",
          "run_checks": "the 16 checks",
          "scan_audit_data": "personal-data scan"}
CHECKS = list(pipeline.CHECK_ORDER)


def scan_seconds(paths: list[Path]) -> float:
    """large_audit.py's reference, run as it runs it: a fresh process reading every column of both files."""
    run = measure([sys.executable, "-c", DUCKDB_SCAN, "csv", *map(str, paths)], timeout=600, max_rss_gb=1e6, cwd=ROOT)
    return run["wall_s"]


def typed_pass_seconds(copy_sql: str, path: Path) -> float:
    """The copy's SELECT over the interactions, aggregated (max of every typed column), not written."""
    engine = DuckDBEngine()
    try:
        engine.register_file("population_raw", str(path), "csv")
        columns = engine.query(f"SELECT * FROM ({copy_sql}) LIMIT 0").columns
        start = time.perf_counter()
        # on every thread, as the copy runs
        engine.query("SELECT count(*) AS n, " + ", ".join(f"max({c}) AS {c}" for c in columns)
                     + f" FROM ({copy_sql})", order_free=True)
        return time.perf_counter() - start
    finally:
        engine.close()


def one_run(data: Path, out: Path) -> dict[str, float]:
    times: dict[str, float] = {"scan": scan_seconds([data / "responses.csv", data / "interactions.csv"])}
    copy_sql: list[str] = []

    def timed(name: str, f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    originals = {name: getattr(pipeline, name) for name in [*STAGES, *CHECKS]}
    materialise = DuckDBEngine.materialise

    def recording(self, table: str, sql: str) -> None:
        copy_sql.append(sql)
        materialise(self, table, sql)

    try:
        for name, f in originals.items():
            setattr(pipeline, name, timed(name, f))
        DuckDBEngine.materialise = recording
        start = time.perf_counter()
        report = pipeline.run_audit(data / "responses.csv", data / "interactions.csv", data / "claim.json")
        times["run_audit"] = time.perf_counter() - start
    finally:
        for name, f in originals.items():
            setattr(pipeline, name, f)
        DuckDBEngine.materialise = materialise
    start = time.perf_counter()
    write_outputs(report, out)
    times["report files"] = time.perf_counter() - start
    start = time.perf_counter()
    pacsv.read_csv(data / "responses.csv").to_pandas()
    times["floor: responses by pyarrow"] = time.perf_counter() - start
    if copy_sql:
        times["floor: interactions typed once"] = typed_pass_seconds(copy_sql[0], data / "interactions.csv")
    times["floor: interactions read again"] = scan_seconds([data / "interactions.csv"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "audit_bench")
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    data = args.data_dir / f"scale_{args.scale:g}_seed_{args.seed}"
    if not (data / "meta.json").exists():
        sys.exit(f"no data in {data}: run benchmarks/large_audit.py --scale {args.scale:g} --generate-only first")
    with tempfile.TemporaryDirectory() as out:
        runs = [one_run(data, Path(out)) for _ in range(args.reps)]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    scan = median["scan"]
    rows = [("DuckDB scan of both files (the reference)", "scan")]
    rows += [(STAGES[k], k) for k in STAGES]
    rows += [(f"  {c}", c) for c in sorted(CHECKS, key=lambda c: -median.get(c, 0.0))]
    rows += [("report files (json, csv, html)", "report files"), ("whole audit (run_audit + files)", None),
             ("floor: responses by pyarrow, nothing checked", "floor: responses by pyarrow"),
             ("floor: interactions typed once, nothing written", "floor: interactions typed once"),
             ("floor: interactions read again (untyped scan)", "floor: interactions read again")]
    print(f"scale {args.scale:g}, median of {args.reps}; seconds and multiples of the scan")
    for label, key in rows:
        seconds = median["run_audit"] + median["report files"] if key is None else median.get(key)
        if seconds is not None:
            print(f"{label:52s} {seconds:7.2f} s {seconds / scan:6.1f}x")


if __name__ == "__main__":
    main()
