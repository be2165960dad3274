"""Large-audit benchmark: the full CLI audit vs. reading the same files once with DuckDB.

    python benchmarks/large_audit.py --scale 0.01            # 100k interactions, ~10k responses
    python benchmarks/large_audit.py --scale 0.1 --reps 3    # 1M interactions, ~100k responses
    python benchmarks/large_audit.py --scale 1 --reps 1      # 10M interactions, ~1M responses
    python benchmarks/large_audit.py --scale 0.1 --generate-only
    python benchmarks/large_audit.py --scale 0.01 --profile  # cProfile of the audit, top entries

Step 1 (cached in --data-dir/scale_<s>/): a seeded, numpy-vectorised generator writes
``interactions.csv`` / ``responses.csv`` (and ``.parquet``) plus ``claim.json`` in chunks of
1M interactions (see benchmarks/README.md for the model and what is planted).
Step 2: for each repetition, in a fresh subprocess each,
  (a) ``python -m audit run responses --population interactions --claim claim.json --out DIR``
  (b) a DuckDB full-column scan of both files:
      ``SELECT count(*), max(c1), max(c2), ... FROM read_csv('file')`` over every column,
wall time and peak RSS (``os.wait4`` rusage ``ru_maxrss`` of that child) are recorded;
the median over repetitions and the ratio a/b are printed (and written as JSON).
The audit is killed after --timeout seconds or when its RSS passes --max-rss-gb
(reported as "> timeout" / "> RSS limit").
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261123
FULL_INTERACTIONS = 10_000_000
N_AGENTS = 2_000
N_ITEMS = 10
CHUNK = 1_000_000
START = np.datetime64("2026-07-01T00:00:00", "s")
DAYS = 92

# Distributions shared with audit/simulation.py (copied, not imported: the simulator is
# written for clarity on a few thousand rows, this one for 10M rows).
CHANNELS = ("phone", "chat", "email", "sms")
CHANNEL_SHARE = np.array([0.45, 0.30, 0.15, 0.10])
CHANNEL_P_RESOLVED = np.array([0.82, 0.78, 0.66, 0.72])
CHANNEL_HANDLE_MEDIAN_S = np.array([420.0, 540.0, 900.0, 300.0])
CHANNEL_SCORE_SHIFT = np.array([0.15, 0.25, -0.35, -0.15])
CHANNEL_LAG_MEDIAN_H = np.array([0.5, 0.25, 4.0, 1.0])
REGIONS = ("North", "South", "East", "West")
REGION_SHARE = np.array([0.35, 0.30, 0.20, 0.15])
TIERS = ("standard", "plus", "premium")
TIER_SHARE = np.array([0.70, 0.22, 0.08])
PRODUCTS = ("mobile", "broadband", "tv", "billing", "other")
PRODUCT_SHARE = np.array([0.35, 0.25, 0.15, 0.20, 0.05])
LANGUAGES = ("en", "es", "fr", "de")
LANGUAGE_SHARE = np.array([0.80, 0.12, 0.05, 0.03])
WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.0, 0.95, 0.9, 0.45, 0.25])      # Mon..Sun
HOUR_WEIGHT = np.array([0.5, 0.8, 1.0, 1.0, 0.9, 0.8, 0.9, 1.0, 0.95, 0.8, 0.6, 0.45, 0.3])
OPEN_HOUR = 7
HANDLE_LOG_SD, UNRESOLVED_HANDLE_FACTOR = 0.55, 1.5
P_REPEAT = (0.06, 0.30)
INTERACTIONS_PER_CUSTOMER = 1.35
ETA_INTERCEPT, ETA_RESOLVED, ETA_REPEAT, ETA_LOG_HANDLE = -1.0, 1.3, -0.5, -0.5
AGENT_EFFECT_SD, WORKLOAD_LOG_SD = 0.15, 0.45
LAG_LOG_SD = 1.0
DURATION_MEDIAN_S, DURATION_LOG_SD = 75.0 + 10.0 * N_ITEMS, 0.35
ITEM_OFFSET_MEAN, ITEM_OFFSET_SD, ITEM_NOISE_SD = -0.5, 0.7, 2.0

# Planted (mild) problems, documented in benchmarks/README.md.
INVITE_RATE = 0.5
INVITE_FACTOR_RESOLVED = (1.1, 0.7)            # mild selective invitation: 0.55 vs 0.35
RESPONSE_RATE = 0.2
CHANNEL_RESPONSE_FACTOR = np.array([1.0, 1.3, 0.8, 0.5])   # mild channel skew
HAPPY_LOG_ODDS_PER_POINT = 0.15                # mild MNAR
BEFORE_SHARE, STRAIGHTLINE_SHARE, SPEEDING_SHARE, DUPLICATE_SHARE = 0.002, 0.03, 0.02, 0.001

SCALE_LO, SCALE_HI = 1, 5


def _cut_points(n_points: int) -> np.ndarray:
    p = (np.arange(1, n_points) / n_points) ** 3.0
    return np.log(p) - np.log1p(-p)


CUTS = _cut_points(SCALE_HI - SCALE_LO + 1)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _labels(codes: np.ndarray, levels: tuple[str, ...]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), pa.array(levels))


def _iso(seconds: np.ndarray) -> pa.Array:
    ts = pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s"))
    return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")


def _month(seconds: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s")), format="%Y-%m")


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s", tz="UTC"))


def _choice(rng: np.random.Generator, share: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(np.cumsum(share / share.sum()), rng.random(n), side="right").astype(np.int64)


def _agents(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 0])
    workload = rng.lognormal(0.0, WORKLOAD_LOG_SD, N_AGENTS)
    effect = rng.normal(0.0, AGENT_EFFECT_SD, N_AGENTS)
    return workload / workload.sum(), effect


def _chunk(seed: int, index: int, first: int, n: int, n_customers: int,
           agent_share: np.ndarray, agent_effect: np.ndarray) -> tuple[dict, dict]:
    """Columns (numpy) of interactions first..first+n-1 and of their responses."""
    rng = np.random.default_rng([seed, 1, index])
    start_weekday = int((START.astype("datetime64[D]").astype(np.int64) + 3) % 7)   # 1970-01-01 = Thu
    day_w = WEEKDAY_WEIGHT[(start_weekday + np.arange(DAYS)) % 7]
    day = _choice(rng, day_w, n)
    hour = OPEN_HOUR + _choice(rng, HOUR_WEIGHT, n)
    t_int = START.astype(np.int64) + day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    agent = _choice(rng, agent_share, n)
    channel = _choice(rng, CHANNEL_SHARE, n)
    region = _choice(rng, REGION_SHARE, n)
    tier = _choice(rng, TIER_SHARE, n)
    product = _choice(rng, PRODUCT_SHARE, n)
    language = _choice(rng, LANGUAGE_SHARE, n)
    resolved = (rng.random(n) < CHANNEL_P_RESOLVED[channel]).astype(np.int8)
    handle = rng.lognormal(np.log(CHANNEL_HANDLE_MEDIAN_S[channel]), HANDLE_LOG_SD)
    handle = np.round(np.where(resolved == 1, handle, handle * UNRESOLVED_HANDLE_FACTOR), 1)
    repeat = (rng.random(n) < np.where(resolved == 1, *P_REPEAT)).astype(np.int8)
    customer = rng.integers(0, n_customers, n)
    eta = (ETA_INTERCEPT + ETA_RESOLVED * resolved + ETA_REPEAT * repeat
           + ETA_LOG_HANDLE * (np.log(handle) - np.log(500.0))
           + CHANNEL_SCORE_SHIFT[channel] + agent_effect[agent] + 0.1 * (tier == 2))
    u = rng.random(n)
    latent = eta + np.log(u) - np.log1p(-u)                     # + Logistic(0, 1)
    score = SCALE_LO + np.searchsorted(CUTS, latent, side="left")
    # invitation: mildly selective (resolved more often); response: channel skew + mild MNAR
    p_invite = INVITE_RATE * np.where(resolved == 1, *INVITE_FACTOR_RESOLVED)
    invited = rng.random(n) < p_invite
    p0 = RESPONSE_RATE * CHANNEL_RESPONSE_FACTOR[channel]
    logit = np.log(p0) - np.log1p(-p0) + HAPPY_LOG_ODDS_PER_POINT * (score - 4.0)
    responded = invited & (rng.random(n) < 1.0 / (1.0 + np.exp(-logit)))
    interaction_id = first + np.arange(n) + 1
    t_end = t_int + np.round(handle).astype(np.int64)
    inter = {"interaction_id": interaction_id, "agent_id": agent + 1, "channel": channel,
             "region": region, "tier": tier, "product": product, "language": language,
             "resolved": resolved, "handle_time_s": handle, "repeat_contact": repeat,
             "interaction_at": t_int, "invited": invited.astype(np.int8),
             "responded": responded.astype(np.int8)}

    row = np.flatnonzero(responded)
    m = row.size
    lag = np.maximum(30, np.round(rng.lognormal(np.log(CHANNEL_LAG_MEDIAN_H[channel[row]] * 3600.0),
                                                LAG_LOG_SD))).astype(np.int64)
    submitted = t_end[row] + lag
    before = rng.random(m) < BEFORE_SHARE
    submitted = np.where(before, t_int[row] - rng.integers(600, 48 * 3600, m), submitted)
    duration = np.round(rng.lognormal(np.log(DURATION_MEDIAN_S), DURATION_LOG_SD, m), 1)
    speeding = rng.random(m) < SPEEDING_SHARE
    duration = np.where(speeding, np.round(DURATION_MEDIAN_S * rng.uniform(0.08, 0.25, m), 1), duration)
    item_offset = np.random.default_rng([seed, 2]).normal(ITEM_OFFSET_MEAN, ITEM_OFFSET_SD, N_ITEMS)
    items = SCALE_LO + np.searchsorted(
        CUTS, latent[row, None] + item_offset + rng.normal(0.0, ITEM_NOISE_SD, (m, N_ITEMS)), side="left")
    straight = rng.random(m) < STRAIGHTLINE_SHARE
    items[straight] = score[row][straight, None]
    # a few responses are exported twice (same interaction, new response row)
    dup = np.flatnonzero(rng.random(m) < DUPLICATE_SHARE)
    order = np.concatenate([np.arange(m), dup])
    resp = {"interaction_id": interaction_id[row][order], "customer_id": customer[row][order] + 1,
            "agent_id": agent[row][order] + 1, "channel": channel[row][order],
            "region": region[row][order], "tier": tier[row][order],
            "product": product[row][order], "language": language[row][order],
            "submitted_at": submitted[order], "interaction_at": t_int[row][order],
            "duration_s": duration[order], "score": score[row][order].astype(np.int8)}
    for j in range(N_ITEMS):
        resp[f"q_{j + 1}"] = items[order, j].astype(np.int8)
    return inter, resp


def _tables(inter: dict, resp: dict, first_response: int) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """(interactions CSV table, interactions Parquet table, responses CSV, responses Parquet)."""
    cat = {"channel": CHANNELS, "region": REGIONS, "tier": TIERS, "product": PRODUCTS, "language": LANGUAGES}

    def build(cols: dict, for_csv: bool) -> pa.Table:
        out = {}
        for name, values in cols.items():
            if name == "interaction_id":
                out[name] = _ids("I", values, 8)
            elif name == "customer_id":
                out[name] = _ids("C", values, 8)
            elif name == "agent_id":
                out[name] = _ids("A", values, 4)
            elif name in cat:
                arr = _labels(values, cat[name])
                out[name] = arr.cast(pa.string()) if for_csv else arr
            elif name in ("interaction_at", "submitted_at"):
                out[name] = _iso(values) if for_csv else _ts(values)
            else:
                out[name] = pa.array(values)
        out["month"] = _month(cols["interaction_at"])
        return pa.table(out)

    resp = {"response_id": first_response + np.arange(resp["score"].size) + 1, **resp}
    resp_csv = build(resp, True)
    resp_csv = resp_csv.set_column(0, "response_id", _ids("R", resp["response_id"], 8))
    resp_pq = build(resp, False)
    resp_pq = resp_pq.set_column(0, "response_id", _ids("R", resp["response_id"], 8))
    return build(inter, True), build(inter, False), resp_csv, resp_pq


def generate(scale: float, out: Path, seed: int = SEED) -> dict:
    """Write interactions/responses (.csv and .parquet) and claim.json under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    n_total = int(round(FULL_INTERACTIONS * scale))
    n_customers = max(1, int(n_total / INTERACTIONS_PER_CUSTOMER))
    agent_share, agent_effect = _agents(seed)
    t0 = time.perf_counter()
    writers: dict[str, object] = {}
    n_resp = top = 0
    tmp = {k: out / f"{k}.tmp" for k in ("interactions.csv", "responses.csv",
                                         "interactions.parquet", "responses.parquet")}
    csv_opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    sinks = {k: pa.OSFile(str(v), "wb") for k, v in tmp.items() if k.endswith(".csv")}
    try:
        for index, first in enumerate(range(0, n_total, CHUNK)):
            n = min(CHUNK, n_total - first)
            inter, resp = _chunk(seed, index, first, n, n_customers, agent_share, agent_effect)
            top += int(np.sum(resp["score"] >= SCALE_HI - 1))
            i_csv, i_pq, r_csv, r_pq = _tables(inter, resp, n_resp)
            n_resp += r_csv.num_rows
            for key, table in (("interactions.csv", i_csv), ("responses.csv", r_csv)):
                if index == 0:       # plain header (pyarrow would quote the names)
                    sinks[key].write((",".join(table.column_names) + "\n").encode())
                pacsv.write_csv(table, sinks[key], csv_opts)
            for key, table in (("interactions.parquet", i_pq), ("responses.parquet", r_pq)):
                if key not in writers:
                    writers[key] = pq.ParquetWriter(str(tmp[key]), table.schema, compression="zstd")
                writers[key].write_table(table)
    finally:
        for s in sinks.values():
            s.close()
        for w in writers.values():
            w.close()
    for key, path in tmp.items():
        path.replace(out / key)
    claim = {"title": f"CSAT Q3 2026: {100 * top / n_resp:.0f} % of customers satisfied",
             "type": "level", "metric": "top2box", "scale": [SCALE_LO, SCALE_HI],
             "value": round(top / n_resp, 3)}
    (out / "claim.json").write_text(json.dumps(claim, indent=2) + "\n")
    meta = {"scale": scale, "seed": seed, "interactions": n_total, "responses": n_resp,
            "agents": N_AGENTS, "generate_s": round(time.perf_counter() - t0, 1),
            "bytes": {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.suffix in (".csv", ".parquet")}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# ---------------------------------------------------------------- measurement ---------

def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], timeout: float, max_rss_gb: float, cwd: Path) -> dict:
    """Run ``cmd`` in a fresh process: wall seconds, peak RSS (MB, ru_maxrss of that child),
    exit code; killed (status "timeout" / "rss_limit") past the limits."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    status, limit_kb = "ok", max_rss_gb * 1024 * 1024
    # drain pipes in threads so a chatty child never blocks
    import threading
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    threads = [threading.Thread(target=lambda s=s, k=k: chunks[k].append(s.read()), daemon=True)
               for s, k in ((proc.stdout, "out"), (proc.stderr, "err"))]
    for t in threads:
        t.start()
    while True:
        pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.perf_counter() - t0
        if status == "ok" and elapsed > timeout:
            status = "timeout"
            os.killpg(proc.pid, signal.SIGKILL)
        elif status == "ok" and _rss_kb(proc.pid) > limit_kb:
            status = "rss_limit"
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(wstatus)
    for t in threads:
        t.join(5)
    return {"status": status, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0,
            "returncode": proc.returncode,
            "stdout": b"".join(chunks["out"]).decode(errors="replace")[-2000:],
            "stderr": b"".join(chunks["err"]).decode(errors="replace")[-2000:]}


DUCKDB_SCAN = r"""
import sys, duckdb
con = duckdb.connect()
fmt = sys.argv[1]
for path in sys.argv[2:]:
    reader = "read_parquet('{0}')" if fmt == "parquet" else "read_csv('{0}', header=true)"
    src = reader.format(path)
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    # ::VARCHAR after the aggregate: the result row needs no pytz/pandas to convert
    sql = "SELECT count(*), " + ", ".join(f'max("{c}")::VARCHAR' for c in cols) + f" FROM {src}"
    print(path, con.execute(sql).fetchone()[0])
"""


def _median(runs: list[dict]) -> dict:
    ok = [r for r in runs if r["status"] == "ok" and r["returncode"] == 0]
    if not ok:
        return {"status": runs[0]["status"] if runs else "none", "wall_s": None, "peak_rss_mb": None}
    return {"status": "ok", "wall_s": statistics.median(r["wall_s"] for r in ok),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in ok), "n": len(ok)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.01,
                        help="fraction of the full size (1 = 10M interactions, ~1M responses); e.g. 0.01, 0.1, 1")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "audit_bench",
                        help="where generated data is cached (default: $TMPDIR/audit_bench)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="input files to audit/scan")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median quoted)")
    parser.add_argument("--timeout", type=float, default=900.0, help="audit time limit, seconds")
    parser.add_argument("--max-rss-gb", type=float, default=12.0, help="kill the audit past this RSS")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the data even if cached")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--skip-audit", action="store_true", help="only the DuckDB scan")
    parser.add_argument("--profile", action="store_true",
                        help="also run the audit once under cProfile and print the top 15 cumulative entries")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    data = args.data_dir / f"scale_{args.scale:g}_seed_{args.seed}"
    if args.regenerate or not (data / "meta.json").exists():
        print(f"generating {data} ...", flush=True)
        meta = generate(args.scale, data, args.seed)
    else:
        meta = json.loads((data / "meta.json").read_text())
    print(f"data: {meta['interactions']:,} interactions, {meta['responses']:,} responses, "
          f"{meta['agents']} agents (generated in {meta['generate_s']} s)")
    for name, size in meta["bytes"].items():
        print(f"  {name:22s} {size / 1e6:10.1f} MB")
    if args.generate_only:
        return

    ext = args.format
    responses, population = data / f"responses.{ext}", data / f"interactions.{ext}"
    py = sys.executable
    audit_cmd = [py, "-m", "audit", "run", str(responses), "--population", str(population),
                 "--claim", str(data / "claim.json"), "--out", str(data / "report")]
    scan_cmd = [py, "-c", DUCKDB_SCAN, ext, str(responses), str(population)]
    runs: dict[str, list[dict]] = {"duckdb_scan": [], "audit": []}
    audit_failed = False
    for rep in range(args.reps):
        r = measure(scan_cmd, args.timeout, 1e6, ROOT)
        runs["duckdb_scan"].append(r)
        print(f"rep {rep + 1}: duckdb scan {r['wall_s']:8.2f} s  {r['peak_rss_mb']:8.0f} MB  rc={r['returncode']}",
              flush=True)
        if r["returncode"]:
            print(r["stderr"], file=sys.stderr)
        if args.skip_audit or audit_failed:
            continue
        r = measure(audit_cmd, args.timeout, args.max_rss_gb, ROOT)
        runs["audit"].append(r)
        print(f"rep {rep + 1}: audit       {r['wall_s']:8.2f} s  {r['peak_rss_mb']:8.0f} MB  rc={r['returncode']} "
              f"{r['status']}  {r['stdout'].splitlines()[0] if r['stdout'] else ''}", flush=True)
        if r["status"] != "ok" or r["returncode"]:
            audit_failed = True           # do not repeat a run that hit a limit or failed
            if r["returncode"] and r["status"] == "ok":
                print(r["stderr"], file=sys.stderr)

    scan, audit = _median(runs["duckdb_scan"]), _median(runs["audit"])
    if audit["wall_s"] is None:
        limit = {"timeout": f"> {args.timeout:.0f} s (timeout)", "rss_limit": f"> {args.max_rss_gb} GB RSS (killed)"}
        audit_text = "skipped" if args.skip_audit else limit.get(audit["status"], f"failed ({audit['status']})")
        ratio = None
    else:
        audit_text = f"{audit['wall_s']:.2f} s, {audit['peak_rss_mb']:.0f} MB"
        ratio = audit["wall_s"] / scan["wall_s"] if scan["wall_s"] else None
    print()
    print(f"scale {args.scale:g} ({meta['interactions']:,} interactions, {meta['responses']:,} responses, {ext}), "
          f"median of {args.reps}:")
    print(f"  (b) duckdb full-column scan: {scan['wall_s']:.2f} s, {scan['peak_rss_mb']:.0f} MB")
    print(f"  (a) full CLI audit:          {audit_text}")
    print(f"  ratio a/b (wall):            {'n/a' if ratio is None else f'{ratio:.1f}x'}")
    result = {"scale": args.scale, "format": ext, "meta": meta, "duckdb_scan": scan, "audit": audit,
              "ratio": ratio, "runs": {k: [{kk: vv for kk, vv in r.items() if kk not in ("stdout", "stderr")}
                                           for r in v] for k, v in runs.items()}}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")

    if args.profile:
        prof = data / "audit.prof"
        cmd = [py, "-m", "cProfile", "-o", str(prof), "-m", "audit", "run", str(responses),
               "--population", str(population), "--claim", str(data / "claim.json"),
               "--out", str(data / "report_profile")]
        r = measure(cmd, args.timeout, args.max_rss_gb, ROOT)
        print(f"\ncProfile run: {r['wall_s']:.1f} s ({r['status']}, rc={r['returncode']})")
        if r["status"] == "ok":
            import pstats
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
