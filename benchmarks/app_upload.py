"""Time to first score in the app for a large upload: does the app stay responsive and show
progress while it audits, and how long until the credibility score appears?

    python benchmarks/large_audit.py --scale 0.1 --generate-only      # the files (105k responses)
    python benchmarks/app_upload.py                                   # upload them, time the audit
    python benchmarks/app_upload.py --data-dir DIR --screenshots DIR

Starts `streamlit run app.py` and Debian's chromium (the harness of tests/test_browser.py),
uploads responses.csv and interactions.csv on the Start page, clicks "Run the audit" and
records, in the page itself (a 50 ms poll), when the progress box appears and when the score
is rendered. Screenshots of the page during and after the audit go to --screenshots.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]
from concurrency import WATCH, open_start  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_ARGS, running_app, settle  # noqa: E402

PROGRESS_SHOWN = """() => { window.__progressAt = null; const t = setInterval(() => {
    if (document.querySelector('[data-testid="stExpander"], [data-testid="stStatusWidget"]')
        && [...document.querySelectorAll('summary, [data-testid="stExpander"]')]
             .some(e => e.textContent.includes('Auditing'))) { window.__progressAt = Date.now(); clearInterval(t); }
  }, 50); }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "audit_bench" / "scale_0.1_seed_20261123")
    parser.add_argument("--screenshots", type=Path, default=Path(tempfile.gettempdir()) / "app_upload_shots")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.screenshots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="app-upload-"))
    with running_app(work / "streamlit.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            _, page = open_start(browser, url)
            page.set_default_timeout(args.timeout * 1000)
            inputs = page.get_by_test_id("stFileUploader")
            t0 = time.perf_counter()
            for label, name in (("Survey responses", "responses.csv"), ("All interactions", "interactions.csv")):
                inputs.filter(has_text=label).locator('input[type="file"]').set_input_files(str(args.data_dir / name))
                page.get_by_text(f"{name}: table export").wait_for()
            settle(page)
            uploaded = time.perf_counter() - t0
            page.evaluate(WATCH)
            page.evaluate(PROGRESS_SHOWN)
            clicked = time.time() * 1000
            page.get_by_role("button", name="Run the audit").click()
            page.wait_for_function("() => window.__progressAt !== null")
            page.screenshot(path=str(args.screenshots / "during.png"))
            page.wait_for_function("() => window.__scoreAt !== null")
            progress_at, score_at, score = page.evaluate("() => [window.__progressAt, window.__scoreAt, window.__score]")
            settle(page)
            page.screenshot(path=str(args.screenshots / "after.png"), full_page=False)
        finally:
            browser.close()
    print(f"files: {args.data_dir}")
    print(f"upload and preview of both files: {uploaded:.1f} s")
    print(f"progress shown {(progress_at - clicked) / 1000:.2f} s after the click; "
          f"score {score} shown {(score_at - clicked) / 1000:.1f} s after the click")
    print(f"screenshots: {args.screenshots}/during.png, after.png")


if __name__ == "__main__":
    main()
