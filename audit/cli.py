"""Command line: `python -m audit run RESPONSES [--population POP] [--claim CLAIM.json]
[--mapping MAP.json] [--out DIR] [--format json,csv,html] [--max-bytes SIZE] [--max-rows N]`.

Exit codes (SPEC): 0 the audit ran (whatever the score), 2 unusable input (one line on
stderr naming file, row/column and what was expected), 1 internal error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from audit.errors import InputError
from audit.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, Limits, human_bytes, parse_bytes, use_system_allocator

EPILOG = """examples:
  python -m audit run sample_data/contact_center/responses.csv \\
      --population sample_data/contact_center/interactions.csv \\
      --claim sample_data/contact_center/claim.json --out audit_report
  python -m audit run export.csv --column score="CSAT Score" --column agent_id="Agent Name"

exit codes: 0 audit ran, 2 unusable input (reason on stderr), 1 internal error."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit", description="Survey & award-integrity auditor.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="audit a survey export and write the report",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("responses", help="survey responses: CSV, Parquet or XLSX (raw Qualtrics/SurveyMonkey/Zendesk exports too)")
    run.add_argument("--population", help="interactions the surveys were drawn from (one row per interaction)")
    run.add_argument("--claim", help="claim.json: what was published (see SPEC.md)")
    run.add_argument("--mapping", help='JSON/TOML column mapping: {"responses": {"score": "CSAT Score"}, "population": {...}}')
    run.add_argument("--column", action="append", default=[], metavar="FIELD=HEADER",
                     help="map a responses field to a header, e.g. score='CSAT Score' (repeatable)")
    run.add_argument("--population-column", action="append", default=[], metavar="FIELD=HEADER",
                     help="map a population field to a header (repeatable)")
    run.add_argument("--out", default="audit_report", help="output folder (default: ./audit_report)")
    run.add_argument("--format", default="json,csv,html", help="comma-separated: json,csv,html")
    run.add_argument("--seed", type=int, default=None, help="seed of the Monte Carlo tests (default 20240601)")
    run.add_argument("--keep-pii", action="store_true",
                     help="keep e-mail addresses, phone numbers and person names in the outputs (by default they "
                          "are replaced by [email]/[phone] inside text and by a keyed hash in id and name columns)")
    run.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                     help="where the interactions table is aggregated: embedded DuckDB (default) or Spark "
                          "(the active session, else the master in --spark-master; needs pyspark)")
    run.add_argument("--max-bytes", type=_size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                     help=f"largest input file read into memory, e.g. 512MB or 2GB; 0 = no limit "
                          f"(default {human_bytes(DEFAULT_MAX_BYTES)}; XLSX/Parquet counted uncompressed; "
                          f"a plain CSV/Parquet interactions file of 64 MB or more is streamed, not limited)")
    run.add_argument("--max-rows", type=_rows, default=DEFAULT_MAX_ROWS, metavar="N",
                     help=f"most data rows in an input file read into memory; 0 = no limit "
                          f"(default {DEFAULT_MAX_ROWS:,})")
    run.add_argument("--spark-master", default=None, metavar="URL",
                     help='Spark master for --engine spark, e.g. "local[4]", "spark://host:7077", "yarn" '
                          "(default: an active session, else local[2])")
    return parser


def _size(text: str) -> int | None:
    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rows(text: str) -> int | None:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows")
    return int(text) or None


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        field, sep, header = item.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise InputError(f"{flag} takes FIELD=HEADER, got {item!r}")
        out[field.strip()] = header.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    use_system_allocator()
    try:
        from audit.loading import load_mapping
        from audit.pipeline import DEFAULT_SEED, run_audit
        from audit.render import WRITERS, write_outputs

        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        unknown = [f for f in formats if f not in WRITERS]
        if unknown or not formats:
            raise InputError(f"unknown --format {','.join(unknown) or args.format!r}", expected="json,csv,html")
        mapping = load_mapping(args.mapping) if args.mapping else {"responses": {}, "population": {}}
        mapping = {"responses": {**mapping.get("responses", {}), **_pairs(args.column, "--column")},
                   "population": {**mapping.get("population", {}),
                                  **_pairs(args.population_column, "--population-column")}}
        engine = args.engine
        if engine == "spark":
            from audit.engine import make_engine

            engine = make_engine("spark", master=args.spark_master)
        try:
            report = run_audit(args.responses, args.population, args.claim, mapping,
                               seed=DEFAULT_SEED if args.seed is None else args.seed, engine=engine,
                               keep_pii=args.keep_pii,
                               limits=Limits(args.max_bytes, args.max_rows, raise_bytes="--max-bytes",
                                             raise_rows="--max-rows"))
        finally:
            if not isinstance(engine, str):
                engine.close()
        # one conversion (0.3 s at a million responses) for the files and the summary printed below
        d = report.to_dict()
        paths = write_outputs(d, args.out, formats)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        print(f"internal error: a dependency is missing in this Python ({exc}); install them with "
              f"`{Path(sys.executable).name} -m pip install -r requirements.txt`", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is exit 1 with a message, not a traceback
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"credibility {d['credibility']['score']}/100 (grade {d['credibility']['grade']}): "
          f"{d['credibility']['verdict']}")
    if report.privacy.columns:
        done = ("kept in the outputs (--keep-pii)" if args.keep_pii
                else "redacted in the outputs (--keep-pii keeps them)")
        print(f"{report.privacy.summary()}: {done}.")
    for path in paths:
        print(f"wrote {path}")
    return 0
