"""Ten users at once on loopback: does every browser session get its audit, and how fast?

    python benchmarks/concurrency.py                   # 10 sessions, each "Try the sample audit"
    python benchmarks/concurrency.py --distinct        # 10 sessions, 10 different uploads (no shared cache)
    python benchmarks/concurrency.py --sessions 4 --json /tmp/concurrency.json

Starts `streamlit run app.py` on a free port and Debian's chromium (the server and browser
of tests/test_browser.py), opens the Start page in N browser contexts (N separate
sessions), then sends every session's click within a fraction of a second and records,
per session, the time from its click to its rendered credibility score. The score's
appearance is timed in the page itself (a 50 ms poll writing Date.now()), so waiting on
one session never delays another's measurement.

Default: every session clicks "Try the sample audit". The app caches an audit by its
inputs, so the first click runs the engine and the others wait for that run: this measures
the server's concurrency (sessions, script threads, rendering) with one audit's CPU.
--distinct: session k uploads the sample's responses without data row k (and the sample's
interactions), so N audits run at once on the machine's cores.

Needs /usr/bin/chromium and the dev requirements (playwright, pytest).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]         # the test harness imports the engine
from test_browser import CHROMIUM, CHROMIUM_ARGS, SAMPLE, VIEWPORT, running_app, settle  # noqa: E402

START_TITLE = "Can we stand behind this number?"
SCORE_SHOWN = """() => [...document.querySelectorAll(
    '[data-testid="stElementContainer"]:not([data-stale="true"]) [data-testid="stMetricValue"]')]
    .find(e => e.textContent.includes('/ 100'))"""
WATCH = f"""() => {{ window.__scoreAt = null;
    const timer = setInterval(() => {{ const e = ({SCORE_SHOWN})();
        if (e) {{ window.__scoreAt = Date.now(); window.__score = e.textContent.trim(); clearInterval(timer); }}
    }}, 50); }}"""


def open_start(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url, wait_until="load")
    page.locator("h1").filter(has_text=START_TITLE).first.wait_for()
    settle(page)
    return context, page


def prepare_upload(page, index: int, folder: Path) -> None:
    """Session `index` uploads the sample without data row `index` (its own audit) and the interactions."""
    frame = pd.read_csv(SAMPLE / "responses.csv", dtype=str, keep_default_na=False)
    path = folder / f"responses_{index:02d}.csv"
    frame.drop(index=frame.index[index]).to_csv(path, index=False)
    inputs = page.get_by_test_id("stFileUploader")
    inputs.filter(has_text="Survey responses").locator('input[type="file"]').set_input_files(str(path))
    page.get_by_text(f"{path.name}: table export").wait_for()
    inputs.filter(has_text="All interactions").locator('input[type="file"]').set_input_files(
        str(SAMPLE / "interactions.csv"))
    page.get_by_text("interactions.csv: table export").wait_for()
    settle(page)
    page.get_by_role("button", name="Run the audit").wait_for()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--distinct", action="store_true", help="a different upload per session (no shared cache)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for every score")
    parser.add_argument("--json", type=Path, help="write the latencies here as JSON")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="concurrency-"))
    with running_app(work / "streamlit.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            sessions = [open_start(browser, url) for _ in range(args.sessions)]
            if args.distinct:
                for k, (_, page) in enumerate(sessions):
                    prepare_upload(page, k, work)
            button = "Run the audit" if args.distinct else "Try the sample audit"
            clicked = []
            for _, page in sessions:
                page.evaluate(WATCH)
                target = page.get_by_role("button", name=button)
                clicked.append(time.time() * 1000)
                target.click()
            spread = (clicked[-1] - clicked[0]) / 1000
            deadline = time.monotonic() + args.timeout
            results = []
            for k, (_, page) in enumerate(sessions):
                remaining = max(1.0, deadline - time.monotonic())
                try:
                    page.wait_for_function("() => window.__scoreAt !== null", timeout=remaining * 1000)
                    shown_at, score = page.evaluate("() => [window.__scoreAt, window.__score]")
                    results.append({"session": k + 1, "latency_s": round((shown_at - clicked[k]) / 1000, 2),
                                    "score": score})
                except Exception as exc:   # noqa: BLE001 - a session that never answered is the finding
                    results.append({"session": k + 1, "latency_s": None, "error": type(exc).__name__})
        finally:
            browser.close()
    answered = [r["latency_s"] for r in results if r["latency_s"] is not None]
    print(f"{args.sessions} sessions ({'distinct uploads' if args.distinct else 'sample audit'}), "
          f"clicks sent within {spread:.2f} s")
    for r in results:
        print(f"  session {r['session']:2d}: " + (f"{r['latency_s']:6.2f} s  score {r['score']}"
                                                   if r["latency_s"] is not None else f"NO ANSWER ({r['error']})"))
    if answered:
        print(f"answered {len(answered)}/{args.sessions}; latency min {min(answered):.2f} s, "
              f"median {statistics.median(answered):.2f} s, max {max(answered):.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"distinct": args.distinct, "results": results}, indent=2) + "\n")
    if len(answered) < args.sessions:
        sys.exit(1)


if __name__ == "__main__":
    main()
