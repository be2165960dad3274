"""Two users at once, in a real browser: sessions auditing different files never see each other's data.

Specification (issue "Hardening", part 5): two browser sessions on one `streamlit run
app.py` server run different audits at the same time, and each sees only its own: the
score, grade and claim title the engine computes for its own files, its own file names in
the sidebar, its own response rate on a drill-down page, and nothing of the other's.
Session A clicks "Try the sample audit" (sample_data/contact_center, planted problems);
session B uploads the clean twin (sample_data/clean, as clean_responses.csv and
clean_interactions.csv) with its claim.json. B is prepared first, then A's click and B's
"Run the audit" are sent back to back, so both audits run at once (checked: neither has
a score when the second starts). The expected numbers come from `audit.run_audit` on the
same files. Screenshots: tests/artifacts/sessions_*.png.

Reuses the server, browser and helpers of tests/test_browser.py (its own server: the
audit cache starts cold). Two sessions only: the ten-session load test is
benchmarks/concurrency.py, run by hand.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from audit import run_audit
from test_browser import (FRESH, PAGE_TIMEOUT_S, ROOT, SAMPLE, SCORE_TIMEOUT_S, VIEWPORT, Session,  # noqa: F401
                          app_url, assert_no_failure, browser, open_from_sidebar, screenshot, settle,
                          sync_playwright)

CLEAN = ROOT / "sample_data" / "clean"
START_TITLE = "Can we stand behind this number?"


@dataclass(frozen=True)
class Expected:
    """What one session must show, and the words only the other session's audit contains."""

    score: str
    grade: str
    title: str
    response_rate: str
    names: tuple[str, ...]          # file names or label shown in the sidebar


def expected(report, names: tuple[str, ...]) -> Expected:
    rate = report.check("response_rate").details["rate"]
    return Expected(f"{report.credibility.score} / 100", report.credibility.grade, report.claim.title,
                    f"{100 * rate:.1f} %", names)


@pytest.fixture(scope="module")
def references():
    """The engine on each session's files, computed while the server starts."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        sample = pool.submit(run_audit, SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")
        clean = pool.submit(run_audit, CLEAN / "responses.csv", CLEAN / "interactions.csv", CLEAN / "claim.json")
        yield {"A": expected(sample.result(), ("the bundled sample audit (sample_data/contact_center)",)),
               "B": expected(clean.result(), ("clean_responses.csv", "clean_interactions.csv"))}


def open_start(browser, app_url) -> Session:
    context = browser.new_context(viewport=VIEWPORT)
    session = Session(context, context.new_page())
    session.page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    session.page.goto(app_url, wait_until="load")
    session.page.locator("h1").filter(has_text=START_TITLE).first.wait_for()
    settle(session.page)
    return session


def uploader(page, label: str):
    return page.get_by_test_id("stFileUploader").filter(has_text=label).locator('input[type="file"]')


def prepare_clean_upload(page, tmp_path) -> None:
    """Session B up to the last click: both files and the claim.json uploaded, the mapping detected."""
    for name in ("responses", "interactions"):
        shutil.copy(CLEAN / f"{name}.csv", tmp_path / f"clean_{name}.csv")
    uploader(page, "Survey responses").set_input_files(str(tmp_path / "clean_responses.csv"))
    page.get_by_text("clean_responses.csv: table export").wait_for()
    uploader(page, "All interactions").set_input_files(str(tmp_path / "clean_interactions.csv"))
    page.get_by_text("clean_interactions.csv: table export").wait_for()
    settle(page)
    page.get_by_text("Upload claim.json").click()
    settle(page)
    uploader(page, "claim.json").set_input_files(str(CLEAN / "claim.json"))
    settle(page)
    page.get_by_role("button", name="Run the audit").wait_for()


def score(page):
    return page.locator(FRESH).get_by_test_id("stMetricValue").filter(has_text="/ 100")


@pytest.fixture(scope="module")
def sessions(browser, app_url, references, tmp_path_factory):
    """A and B, their audits started back to back and both finished."""
    a, b = open_start(browser, app_url), open_start(browser, app_url)
    try:
        prepare_clean_upload(b.page, tmp_path_factory.mktemp("uploads"))
        a.page.get_by_role("button", name="Try the sample audit").click()
        b.page.get_by_role("button", name="Run the audit").click()
        b.page.wait_for_timeout(200)
        overlapped = score(a.page).count() == 0 and score(b.page).count() == 0
        for s in (a, b):
            score(s.page).wait_for(state="visible", timeout=SCORE_TIMEOUT_S * 1000)
            settle(s.page)
        yield {"A": a, "B": b, "overlapped": overlapped}
    finally:
        a.context.close()
        b.context.close()


def shown_text(page) -> str:
    """Everything the current run drew, and the sidebar."""
    return " ".join(page.locator(FRESH).all_inner_texts()) + page.get_by_test_id("stSidebar").inner_text()


@pytest.mark.parametrize("me, other", [("A", "B"), ("B", "A")])
def test_each_session_sees_its_own_audit_and_nothing_of_the_other(sessions, references, me, other):
    page, mine, theirs = sessions[me].page, references[me], references[other]
    assert sessions["overlapped"], "the two audits did not run at the same time"
    assert mine.score != theirs.score and mine.title != theirs.title, "the two audits must be told apart"
    assert_no_failure(page, f"session {me}: report")
    assert score(page).inner_text().strip() == mine.score
    grade = page.locator(FRESH).get_by_test_id("stMetric").filter(has_text="Grade").get_by_test_id("stMetricValue")
    assert grade.inner_text().strip() == mine.grade
    assert page.locator(FRESH).locator("h1").filter(has_text=mine.title).count() == 1
    sidebar = page.get_by_test_id("stSidebar").inner_text()
    assert all(n in sidebar for n in mine.names), sidebar
    assert f"{mine.score} · grade {mine.grade}" in sidebar
    text = shown_text(page)
    assert theirs.title not in text and not any(n in text for n in theirs.names)
    screenshot(page, f"sessions_{me}_report.png")
    assert sessions[me].page_errors == []


@pytest.mark.parametrize("me, other", [("A", "B"), ("B", "A")])
def test_each_sessions_drill_down_page_draws_its_own_numbers(sessions, references, me, other):
    page, mine, theirs = sessions[me].page, references[me], references[other]
    open_from_sidebar(page, "Response rates", "Response rates", charts=True)
    assert_no_failure(page, f"session {me}: Response rates")
    rate = page.locator(FRESH).get_by_test_id("stMetric").filter(has_text="Response rate").get_by_test_id(
        "stMetricValue").first.inner_text().strip()
    assert rate == mine.response_rate
    text = shown_text(page)
    assert theirs.title not in text and not any(n in text for n in theirs.names)
    screenshot(page, f"sessions_{me}_response_rates.png")
