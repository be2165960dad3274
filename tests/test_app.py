"""The Streamlit front page, driven headless by Streamlit's own AppTest.

Specification: `streamlit run app.py` opens on the bundled sample audit and shows the
engine's credibility score, grade and verdict, the table of all SPEC checks and the three
downloads (SPEC "The app"; "report.json"). Every number shown is compared with a direct
`audit.run_audit` call on the same sample, so the page can only pass by drawing the
engine's result, not by re-deriving or hard-coding it.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from audit import run_audit

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
N_SPEC_CHECKS = 16  # SPEC "report.json": the table of check ids, every id in every report


@pytest.fixture(scope="module")
def engine_report():
    """The reference: the engine run directly on the bundled sample, as the app does."""
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def app() -> AppTest:
    """One headless run of app.py shared by the tests (the audit takes seconds)."""
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()


def _metric(app: AppTest, label: str):
    matches = [m for m in app.metric if m.label == label]
    assert len(matches) == 1, f"expected one metric labelled {label!r}, got {[m.label for m in app.metric]}"
    return matches[0]


def test_app_runs_without_exception_or_error_message(app):
    assert not app.exception
    assert not app.error


def test_app_says_it_is_showing_the_bundled_sample(app):
    assert any("sample_data/contact_center" in i.value for i in app.info)


def test_score_shown_is_the_engines_credibility_score_out_of_100(app, engine_report):
    assert _metric(app, "Credibility score").value == f"{engine_report.credibility.score} / 100"


def test_grade_shown_is_the_engines_grade(app, engine_report):
    assert _metric(app, "Grade").value == engine_report.credibility.grade


def test_verdict_shown_is_the_engines_verdict_sentence(app, engine_report):
    assert any(md.value == f"**Verdict.** {engine_report.credibility.verdict}" for md in app.markdown)


def test_checks_table_has_one_row_per_spec_check(app):
    assert len(app.table) == 1
    assert len(app.table[0].value) == N_SPEC_CHECKS


def test_checks_table_lists_the_engines_checks_in_order_with_their_status(app, engine_report):
    table = app.table[0].value
    assert list(table.index) == [c.title for c in engine_report.checks]
    assert [s.split(" ", 1)[1] for s in table["status"]] == [
        {"not_applicable": "not applicable", "warn": "warning"}.get(c.status, c.status) for c in engine_report.checks]
    assert list(table["finding"]) == [c.summary for c in engine_report.checks]


def test_score_cap_is_explained(app, engine_report):
    assert any("capped" in c.value for c in app.caption) == bool(engine_report.credibility.caps)


def test_page_offers_the_three_report_downloads(app):
    assert [b.label for b in app.get("download_button")] == ["report.json", "findings.csv", "report.html"]
