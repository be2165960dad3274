"""End to end in a real browser: `streamlit run app.py`, opened by Debian's chromium.

Specification (issue "The Streamlit app"): a first-time user opens the app on the Start
page, clicks "Try the sample audit" and, within the time of one audit, sees the
credibility score the engine computes for the bundled sample; every page is reachable
from the sidebar and draws its charts without an exception or an error box; the Export
page's report.html is self-contained (its charts render with the network blocked) and
runs no script that came from the user's data.

The numbers are compared with a direct `audit.run_audit` on the same files, so a page can
only pass by drawing the engine's result. Screenshots of every page are left in
tests/artifacts/ for a human to look at, with report.html and timings.json (the time from
the click to the rendered score is also printed: run with `-s`).

Needs /usr/bin/chromium (`apt-get install chromium`) and the `playwright` package (its
bundled driver only; no downloaded browsers). Without them the tests are skipped on a
workstation but fail under CI, where a skip would hide a broken front end.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from audit import run_audit
from audit.render import report_html

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT_S = 60
SCORE_TIMEOUT_S = 120   # the first click runs the whole audit (~10-20 s on a 2-core machine)
PAGE_TIMEOUT_S = 60     # one page switch, charts drawn (the Export page builds the PDF first)
MAX_SCREENSHOT_HEIGHT = 16_000

# Selectors of Streamlit's DOM (data-testid) and plotly's.
FRESH = '[data-testid="stElementContainer"]:not([data-stale="true"])'   # drawn by the current run
CHART = ".js-plotly-plot .main-svg"
EXCEPTION = '[data-testid="stException"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'
PLOTLY_ELEMENT = '[data-testid="stPlotlyChart"]'

# The pages a user reaches from the sidebar: (sidebar link, page title, has charts, screenshot).
SIDEBAR_PAGES = [
    ("Response rates", "Response rates", True, "03_response_rates.png"),
    ("Representativeness", "Representativeness", True, "04_representativeness.png"),
    ("Rankings & awards", "Rankings & awards", True, "05_rankings.png"),
    ("Data integrity", "Data integrity", True, "06_integrity.png"),
    ("Export", "Export", False, "07_export.png"),
    ("Methodology", "Methodology", False, "08_methodology.png"),
]

# Hostile data: markup in a unit id and in the claim title must be shown as text, never run.
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = '</script><script>window.__xss=2</script>'

TIMINGS: dict[str, object] = {}


def _missing(reason: str) -> None:
    """Skip on a workstation; fail under CI, where the browser must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, log_path: Path) -> None:
    """Poll Streamlit's health endpoint until the server answers, or fail with its log."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer on {url} within {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()}")


def _write_timings() -> None:
    if not TIMINGS:       # a run of only the hostile-data tests measures nothing
        return
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# fixtures: one server, one browser, one user session for the whole file
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sync_playwright():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install --no-install-recommends chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return sync_playwright


@contextmanager
def running_app(log_path: Path) -> Iterator[str]:
    """A `streamlit run app.py` server on a free local port (its output in `log_path`), always
    terminated afterwards; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(url, server, log_path)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def app_url(sync_playwright, request):
    """One server per test module, its log in tests/artifacts/<module>.streamlit.log."""
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(ARTIFACTS / f"{request.module.__name__}.streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(sync_playwright):
    """Debian's chromium, driven by Playwright's bundled driver; closed after the module."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            _write_timings()


@pytest.fixture(scope="module")
def engine_report_future(sync_playwright):
    """The reference: the engine run directly on the bundled sample, as the Start page does.

    It runs in a thread while the server starts and the Start page loads (the main thread
    only waits on them), and is finished before the timed click, so it never competes with
    the audit being timed."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run_audit, SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def engine_report(engine_report_future: Future):
    return engine_report_future.result()


class Session:
    """A user's browser tab on the app, with every uncaught script error it raised."""

    def __init__(self, context, page) -> None:
        self.context, self.page = context, page
        self.page_errors: list[str] = []
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))


@pytest.fixture(scope="module")
def sample_session(engine_report_future, browser, app_url):
    """A first-time user: opens the app, then clicks "Try the sample audit" (timed)."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    session = Session(context, context.new_page())
    page = session.page
    page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    try:
        started = time.perf_counter()
        page.goto(app_url, wait_until="load")
        page.locator("h1").filter(has_text="Can we stand behind this number?").first.wait_for()
        button = page.get_by_role("button", name="Try the sample audit")
        button.wait_for()
        settle(page)
        TIMINGS["start_page_s"] = round(time.perf_counter() - started, 2)   # overlaps the reference audit
        assert_no_failure(page, "Start")
        screenshot(page, "01_start.png")

        engine_report_future.result()   # the reference audit must not compete with the timed one
        clicked = time.perf_counter()
        button.click()
        score = page.locator(FRESH).get_by_test_id("stMetricValue").filter(has_text="/ 100")
        score.wait_for(state="visible", timeout=SCORE_TIMEOUT_S * 1000)
        session.click_to_score_s = time.perf_counter() - clicked
        session.shown_score = score.inner_text().strip()
        TIMINGS["click_to_score_s"] = round(session.click_to_score_s, 2)
        print(f"\nStart page ready in {TIMINGS['start_page_s']:.2f} s; "
              f"click 'Try the sample audit' -> rendered score {session.click_to_score_s:.2f} s")
        _write_timings()
        yield session
    finally:
        context.close()


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def settle(page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """Wait until the script run has finished (no "Running..." icon) and the DOM has painted."""
    page.wait_for_function(f"() => !document.querySelector('{RUNNING}')", timeout=timeout_s * 1000)
    page.wait_for_timeout(300)
    page.wait_for_function(f"() => !document.querySelector('{RUNNING}')", timeout=timeout_s * 1000)


def wait_for_every_chart(page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """Wait until every plotly element on the page has drawn its SVG (the plotly bundle loads
    lazily, so a chart can still be an empty placeholder when the rest has painted)."""
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{PLOTLY_ELEMENT}')].every(c => c.querySelector('.main-svg'))""",
        timeout=timeout_s * 1000)


def assert_no_failure(page, where: str) -> None:
    exceptions = page.locator(EXCEPTION)
    assert exceptions.count() == 0, f"{where}: Streamlit exception box:\n" + "\n---\n".join(exceptions.all_inner_texts())
    errors = page.locator(ERROR_ALERT)
    assert errors.count() == 0, f"{where}: error alert:\n" + "\n---\n".join(errors.all_inner_texts())


def screenshot(page, name: str) -> None:
    """The whole page, not just the viewport: Streamlit scrolls inside its main container, so
    the viewport is stretched to the content's height for the shot."""
    wait_for_every_chart(page)
    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight,
                        main ? main.scrollHeight : 0);
    }""")
    size = page.viewport_size or VIEWPORT
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), MAX_SCREENSHOT_HEIGHT)})
    try:
        page.wait_for_timeout(200)   # let the page re-layout after the resize
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    finally:
        page.set_viewport_size(size)


def drawn_charts(page) -> int:
    """Plotly charts of the current run that have drawn their SVG."""
    return page.locator(FRESH).locator(".js-plotly-plot").filter(has=page.locator(".main-svg")).count()


def open_from_sidebar(page, link_text: str, title: str, *, charts: bool) -> float:
    """Click a sidebar link as a user would; wait for the page's title (and charts). Seconds taken."""
    link = page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink").filter(has_text=link_text)
    assert link.count() == 1, f"sidebar link {link_text!r}: found {link.count()}"
    started = time.perf_counter()
    link.click()
    page.locator(FRESH).locator("h1").filter(has_text=title).first.wait_for()
    if charts:
        page.locator(FRESH).locator(CHART).first.wait_for()
    settle(page)
    if charts:
        wait_for_every_chart(page)
    return time.perf_counter() - started


def offline_page(browser, blocked: list[str]):
    """A fresh context with the network cut: only file:// loads, every other request is
    aborted and recorded in `blocked`."""
    context = browser.new_context(viewport=VIEWPORT, offline=True)

    def route(request_route):
        if request_route.request.url.startswith("file:"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    context.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:"))
               else blocked.append(r.url))
    return context, context.new_page()


# ---------------------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------------------
def test_sample_audit_shows_the_engines_score(sample_session, engine_report):
    page = sample_session.page
    expected = engine_report.credibility.score
    assert sample_session.shown_score == f"{expected} / 100"
    # The click lands on the report: its title is the claim, its charts draw.
    page.locator(FRESH).locator("h1").filter(has_text=engine_report.claim.title).first.wait_for()
    page.locator(FRESH).locator(CHART).first.wait_for()
    settle(page)
    assert drawn_charts(page) >= 1
    assert_no_failure(page, "Credibility report")
    grade = page.locator(FRESH).get_by_test_id("stMetric").filter(has_text="Grade").get_by_test_id("stMetricValue")
    assert grade.inner_text().strip() == engine_report.credibility.grade
    # The sidebar summary agrees with the page.
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert f"{expected} / 100 · grade {engine_report.credibility.grade}" in sidebar, sidebar
    screenshot(page, "02_report.png")
    assert sample_session.page_errors == []


@pytest.mark.parametrize("link_text, title, has_charts, shot", SIDEBAR_PAGES, ids=[p[0] for p in SIDEBAR_PAGES])
def test_every_page_opens_from_the_sidebar(sample_session, link_text, title, has_charts, shot):
    page = sample_session.page
    seconds = open_from_sidebar(page, link_text, title, charts=has_charts)
    TIMINGS.setdefault("sidebar_click_to_page_s", {})[link_text] = round(seconds, 2)  # type: ignore[union-attr]
    assert_no_failure(page, link_text)
    if has_charts:
        assert drawn_charts(page) >= 1, f"{link_text}: no plotly chart drawn"
    screenshot(page, shot)
    assert sample_session.page_errors == []


def test_exported_report_html_is_self_contained_and_inert(sample_session, browser, engine_report):
    page = sample_session.page
    open_from_sidebar(page, "Export", "Export", charts=False)
    button = page.locator(FRESH).get_by_test_id("stDownloadButton").filter(has_text="report.html")
    button.wait_for()
    started = time.perf_counter()
    with page.expect_download(timeout=PAGE_TIMEOUT_S * 1000) as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == "report.html"
    saved = ARTIFACTS / "report.html"
    download.save_as(saved)
    TIMINGS["report_html_download_s"] = round(time.perf_counter() - started, 2)
    assert_no_failure(page, "Export")
    text = saved.read_text(encoding="utf-8")
    assert engine_report.claim.title in text

    blocked: list[str] = []
    context, offline = offline_page(browser, blocked)
    errors: list[str] = []
    offline.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        started = time.perf_counter()
        offline.goto(saved.as_uri(), wait_until="load")
        offline.locator(CHART).first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
        TIMINGS["report_html_offline_render_s"] = round(time.perf_counter() - started, 2)
        offline.wait_for_timeout(500)
        charts = offline.locator(".js-plotly-plot").filter(has=offline.locator(".main-svg")).count()
        assert charts >= 3, f"only {charts} plotly charts drew offline"
        assert offline.locator(CHART).count() >= 3
        assert offline.evaluate("() => typeof window.__xss") == "undefined"
        body = offline.locator("body").inner_text()
        assert str(engine_report.credibility.score) in body
        assert engine_report.credibility.grade in body
        offline.screenshot(path=str(ARTIFACTS / "09_report_html_offline.png"), full_page=True)
    finally:
        context.close()
    assert errors == [], f"script errors in the offline report: {errors}"
    assert blocked == [], f"report.html is not self-contained; it asked the network for {blocked}"


def hostile_responses() -> pd.DataFrame:
    """800 sample responses whose agent ids (60 rows each) are markup meant to run a script."""
    frame = pd.read_csv(SAMPLE / "responses.csv", dtype=str, keep_default_na=False).head(800)
    frame.loc[frame.index[:60], "agent_id"] = XSS_IMG
    frame.loc[frame.index[60:120], "agent_id"] = XSS_SCRIPT
    return frame


def test_hostile_data_runs_no_script_in_report_html(browser, tmp_path):
    """A unit id and claim title of markup are shown as text in report.html, never executed."""
    responses = hostile_responses()
    claim = {"title": f"Agent {XSS_IMG} is our champion {XSS_SCRIPT}", "type": "best_unit",
             "unit_column": "agent_id", "unit": XSS_IMG}
    report = run_audit(responses.to_csv(index=False).encode("utf-8"), None, claim, responses_name="hostile.csv")
    path = tmp_path / "hostile_report.html"
    path.write_text(report_html(report), encoding="utf-8")

    blocked: list[str] = []
    context, offline = offline_page(browser, blocked)
    dialogs: list[str] = []
    offline.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        offline.goto(path.as_uri(), wait_until="load")
        offline.wait_for_timeout(500)    # time for an injected onerror to fire (the network is cut)
        assert offline.evaluate("() => typeof window.__xss") == "undefined"
        assert offline.locator("img[onerror]").count() == 0
        body = offline.locator("body").inner_text()
        assert XSS_IMG in body, "the hostile claim title is not shown as text"
    finally:
        context.close()
    assert dialogs == []


def test_hostile_upload_runs_no_script_in_the_app(browser, app_url, tmp_path):
    """The same hostile file uploaded through the Start page: the pages show it as text."""
    upload = tmp_path / "hostile.csv"
    hostile_responses().to_csv(upload, index=False)
    title = f"Agent {XSS_IMG} is our champion"
    context = browser.new_context(viewport=VIEWPORT)
    session = Session(context, context.new_page())
    page = session.page
    page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    try:
        page.goto(app_url, wait_until="load")
        page.locator("h1").filter(has_text="Can we stand behind this number?").first.wait_for()
        settle(page)
        page.get_by_test_id("stFileUploader").filter(has_text="Survey responses").locator(
            'input[type="file"]').set_input_files(str(upload))
        headline = page.get_by_label("Headline as published")
        headline.wait_for()
        settle(page)
        headline.fill(title)
        headline.press("Enter")
        settle(page)
        page.get_by_role("button", name="Run the audit").click()
        page.locator(FRESH).get_by_test_id("stMetricValue").filter(has_text="/ 100").wait_for(
            timeout=SCORE_TIMEOUT_S * 1000)
        page.locator(FRESH).locator(CHART).first.wait_for()
        settle(page)
        assert drawn_charts(page) >= 1, "hostile upload: no chart drew on the report"
        assert_no_failure(page, "hostile upload: report")
        assert page.locator(FRESH).locator("h1").filter(has_text=title).count() == 1, \
            "the hostile headline is not shown as text"
        screenshot(page, "10_hostile_upload_report.png")
        for link_text, page_title, shot in (("Rankings & awards", "Rankings & awards", "11_hostile_upload_rankings.png"),
                                            ("Data integrity", "Data integrity", None)):
            open_from_sidebar(page, link_text, page_title, charts=True)   # charts name the hostile units
            assert_no_failure(page, f"hostile upload: {link_text}")
            assert page.evaluate("() => typeof window.__xss") == "undefined", f"script ran on {link_text}"
            if shot:
                screenshot(page, shot)
        assert page.evaluate("() => typeof window.__xss") == "undefined"
        assert page.locator("img[onerror]").count() == 0
    finally:
        context.close()
    assert session.page_errors == []
