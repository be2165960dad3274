"""A 2 GB interactions file through the CLI: streamed or refused, never an out-of-memory kill.

    python benchmarks/big_file.py                  # ~2 GB interactions.csv in $TMPDIR/audit_big
    python benchmarks/big_file.py --gb 0.2 --cases streamed     # a quick 200 MB rehearsal
    python benchmarks/big_file.py --max-rss-gb 6   # kill any run past 6 GB (reported, not hidden)

Step 1 (cached): `large_audit.generate` writes a seeded audit whose interactions.csv is
about --gb gigabytes (23 M rows for 2 GB), with its responses.csv (~10 % of the
interactions, ~350 MB at 2 GB) and claim.json; the first --head responses are copied to
responses_head.csv. Nothing is written inside the repository.
Step 2: each case runs `python -m audit run ...` in a fresh process, measured by
`large_audit.measure` (wall time, peak RSS = ru_maxrss of that child from os.wait4):

  streamed  responses_head.csv + the 2 GB interactions.csv: DuckDB reads the interactions
            column by column (`audit.population_file`), so memory stays bounded: exit 0;
  refused   the full responses.csv (over the default 256 MB limit) + the same
            interactions: refused before it is read: exit 2, the reason on stderr;
  rows      the same with --max-bytes 1GB: read, then refused by the 2,000,000-row
            limit: exit 2 (what a raised byte limit still guards).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from large_audit import FULL_INTERACTIONS, ROOT, SEED, generate, measure  # noqa: E402

CSV_BYTES_PER_INTERACTION = 88.46     # interactions.csv at scale 0.1: 88,455,611 bytes / 1 M rows
HEAD_RESPONSES = 20_000


def data_for(gb: float, data_dir: Path, head: int) -> Path:
    """The generated audit (cached by size), with the first `head` responses in responses_head.csv."""
    scale = round(gb * 2**30 / CSV_BYTES_PER_INTERACTION / FULL_INTERACTIONS, 3)
    out = data_dir / f"scale_{scale:g}_seed_{SEED}"
    if not (out / "meta.json").exists():
        print(f"generating {out} (scale {scale:g}) ...", flush=True)
        generate(scale, out, SEED)
    head_path = out / "responses_head.csv"
    if not head_path.exists():
        with (out / "responses.csv").open("rb") as src, head_path.open("wb") as dst:
            for i, line in enumerate(src):
                if i > head:
                    break
                dst.write(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.0, help="size of interactions.csv in GB (default 2)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "audit_big")
    parser.add_argument("--head", type=int, default=HEAD_RESPONSES, help="responses in the streamed case")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--max-rss-gb", type=float, default=8.0,
                        help="kill a run past this RSS (reported as rss_limit)")
    parser.add_argument("--cases", default="streamed,refused,rows", help="which cases to run (default all)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    data = data_for(args.gb, args.data_dir, args.head)
    files = {p.name: p.stat().st_size for p in sorted(data.glob("*.csv"))}
    for name, size in files.items():
        print(f"  {name:22s} {size / 2**30:8.2f} GB")
    audit = [sys.executable, "-m", "audit", "run"]
    common = ["--population", str(data / "interactions.csv"), "--claim", str(data / "claim.json"),
              "--out", str(data / "report")]
    cases = {
        "streamed": audit + [str(data / "responses_head.csv")] + common,
        "refused": audit + [str(data / "responses.csv")] + common,
        "rows": audit + [str(data / "responses.csv")] + common + ["--max-bytes", "1GB"],
    }
    results = {}
    for case in args.cases.split(","):
        cmd = cases[case]
        r = measure(cmd, args.timeout, args.max_rss_gb, ROOT)
        results[case] = {k: r[k] for k in ("status", "returncode", "wall_s", "peak_rss_mb")}
        said = (r["stdout"].splitlines() or [""])[0] if r["returncode"] == 0 else r["stderr"].strip()[-400:]
        results[case]["said"] = said
        print(f"{case:9s} exit {r['returncode']:>3}  {r['wall_s']:8.1f} s  peak RSS {r['peak_rss_mb']:8.0f} MB  "
              f"{r['status']}\n          {said}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"files": files, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
