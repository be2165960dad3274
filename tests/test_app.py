"""The Streamlit app, page by page, driven headless by Streamlit's AppTest.

Specification (issue "The Streamlit app"): the app opens on a Start page whose "Try the
sample audit" action shows the credibility report without any upload; every page draws
the engine's report (numbers compared with a direct `audit.run_audit` on the same input,
so a page can only pass by drawing the engine's result); uploads of good files are mapped
and audited, bad files give an inline error and never a traceback; pages without an audit
invite the user to start one.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from audit import run_audit
from audit.headline import format_p
from ui.components import check_numbers_caption, md_escape

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
PAGES = ("pages/report.py", "pages/response_rates.py", "pages/representativeness.py", "pages/rankings.py",
         "pages/integrity.py", "pages/export.py", "pages/methodology.py")
TIMEOUT = 180


def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


@pytest.fixture(scope="module")
def engine_report():
    """The reference: the engine run directly on the bundled sample, as the app does."""
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def sample_app() -> AppTest:
    """One session that clicked "Try the sample audit" (the audit takes seconds)."""
    app = new_app().run()
    app.button(key="try_sample").click().run()
    return app


def metric_value(app: AppTest, label: str) -> str:
    matches = [m for m in app.metric if m.label == label]
    assert len(matches) == 1, f"expected one metric labelled {label!r}, got {[m.label for m in app.metric]}"
    return matches[0].value


def no_failure(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


# ---------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------
def test_app_opens_on_the_start_page_with_the_sample_action():
    app = new_app().run()
    no_failure(app)
    assert app.title[0].value == "Can we stand behind this number?"
    assert app.button(key="try_sample").label == "Try the sample audit"
    assert [u.label for u in app.file_uploader][0].startswith("Survey responses")


def test_try_the_sample_audit_shows_the_engines_score_grade_and_verdict(sample_app, engine_report):
    no_failure(sample_app)
    assert metric_value(sample_app, "Credibility score") == f"{engine_report.credibility.score} / 100"
    assert metric_value(sample_app, "Grade") == engine_report.credibility.grade
    # shown literally: markdown specials in user-derived text are escaped (ui.components.md_escape)
    assert any(md.value == f"**Verdict.** {md_escape(engine_report.credibility.verdict)}" for md in sample_app.markdown)


def test_the_report_lists_the_three_key_findings_and_every_check(sample_app, engine_report):
    text = " ".join(md.value for md in sample_app.markdown)
    for check_id in engine_report.credibility.key_findings:
        assert md_escape(engine_report.check(check_id).summary) in text
    titles = [e.label for e in sample_app.expander]
    assert all(any(c.title in t for t in titles) for c in engine_report.checks)


def test_each_check_card_quotes_its_p_value_as_a_reader_expects_it(sample_app, engine_report):
    # reference: audit.headline.format_p on the engine's own p-values ('p < 0.001', not 'p value = 0')
    for check in engine_report.checks:
        card = next(e for e in sample_app.expander if e.label.endswith(f"· {check.title}"))
        captions = [c.value for c in card.caption]
        if check.p_value is not None:
            assert any(format_p(check.p_value) in c for c in captions), check.id
        assert not any("p value" in c for c in captions), check.id


def test_a_p_value_that_underflows_to_zero_reads_as_below_one_in_a_thousand():
    caption = check_numbers_caption({"statistic": 7514.2, "p_value": 0.0, "effect_size": 0.1223})
    assert caption == "statistic = 7514 · p < 0.001 · effect size = 0.1223"


# ---------------------------------------------------------------------------------------
# drill-down pages on the sample audit
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_draws_without_error_after_the_sample_audit(sample_app, page):
    sample_app.switch_page(page).run()
    no_failure(sample_app)
    assert sample_app.title


def test_response_rates_page_shows_the_engines_rate(sample_app, engine_report):
    sample_app.switch_page("pages/response_rates.py").run()
    rate = engine_report.check("response_rate").details["rate"]
    assert metric_value(sample_app, "Response rate") == f"{100 * rate:.1f} %"


def test_representativeness_page_shows_the_r_indicator(sample_app, engine_report):
    sample_app.switch_page("pages/representativeness.py").run()
    r = engine_report.check("representativeness").details["r_indicator"]
    assert metric_value(sample_app, "R-indicator") == f"{r:.2f}"


def test_rankings_page_shows_the_rank_set_and_p_best(sample_app, engine_report):
    sample_app.switch_page("pages/rankings.py").run()
    d = engine_report.check("rank_uncertainty").details
    assert metric_value(sample_app, "P(truly best)") == f"{100 * d['p_best']:.1f} %"  # below 10 %: one decimal
    assert metric_value(sample_app, "Rank, 95 % confidence set").startswith(f"{d['rank_ci'][0]}–{d['rank_ci'][1]}")


def test_integrity_page_offers_the_rows_behind_each_finding(sample_app, engine_report):
    sample_app.switch_page("pages/integrity.py").run()
    labels = [b.label for b in sample_app.get("download_button")]
    # the sample's duplicates, early responses, straight-liners and speeders all list rows
    assert len(labels) >= 4
    frames = [d.value for d in sample_app.dataframe]
    speeding_rows = set(engine_report.check("speeding").details["rows"])
    assert any(set(f.get("(row in file)", pd.Series(dtype=int))) == speeding_rows for f in frames)


def test_export_page_offers_the_four_documents(sample_app):
    sample_app.switch_page("pages/export.py").run()
    labels = {b.label for b in sample_app.get("download_button")}
    assert labels == {"report.json", "findings.csv", "report.html", "executive.pdf"}


def test_methodology_page_shows_the_engines_rubric():
    from audit.scoring import WEIGHTS
    app = new_app()
    app.run()
    app.switch_page("pages/methodology.py").run()
    no_failure(app)
    table = app.table[0].value
    assert table.loc["claim_significance", "points deducted on fail"] == WEIGHTS["claim_significance"][0]


@pytest.mark.parametrize("page", PAGES[:-1])
def test_pages_without_an_audit_invite_the_user_to_start_one(page):
    app = new_app()
    app.run()
    app.switch_page(page).run()
    no_failure(app)
    assert any("No audit yet" in i.value for i in app.info)
    assert app.button(key="try_sample_here").label == "Try the sample audit"


# ---------------------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------------------
def upload(app: AppTest, key: str, name: str, data: bytes) -> None:
    app.file_uploader(key=key).set_value((name, data, "text/csv"))


def test_uploaded_files_are_mapped_automatically_and_audited(engine_report):
    app = new_app().run()
    upload(app, "responses_file", "responses.csv", (SAMPLE / "responses.csv").read_bytes())
    upload(app, "population_file", "interactions.csv", (SAMPLE / "interactions.csv").read_bytes())
    app.run()
    no_failure(app)
    detected = app.data_editor[0].value.set_index("field")["column in your file"]
    assert detected["score"] == "score" and detected["agent_id"] == "agent_id"
    claim = json.loads((SAMPLE / "claim.json").read_text())
    app.text_input[0].set_value(claim["title"])
    app.text_input[1].set_value(f"{100 * claim['value']:.1f} %")
    app.run()
    app.button(key="run_upload").click().run()
    no_failure(app)
    # the same files and claim as the engine reference: the same score
    assert metric_value(app, "Credibility score") == f"{engine_report.credibility.score} / 100"


def renamed_upload() -> AppTest:
    """An export whose score header ("How satisfied (1-5)") no header rule recognises."""
    frame = pd.read_csv(SAMPLE / "responses.csv").rename(columns={"score": "How satisfied (1-5)"})
    app = new_app().run()
    upload(app, "responses_file", "renamed.csv", frame.to_csv(index=False).encode())
    return app.run()


def test_an_unmapped_score_column_is_an_inline_error_naming_the_file():
    app = renamed_upload()
    app.button(key="run_upload").click().run()
    assert not app.exception
    message = " ".join(e.value for e in app.error)
    assert md_escape("renamed.csv") in message and "no score column" in message


def test_an_edited_mapping_is_used_by_the_audit():
    app = renamed_upload()
    # what the table editor sends when the user picks the header for the first row (score)
    app.session_state["map_responses"] = {"edited_rows": {0: {"column in your file": "How satisfied (1-5)"}},
                                          "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="run_upload").click().run()
    no_failure(app)
    assert json.loads(app.session_state["audit_inputs"].mapping)["responses"]["score"] == "How satisfied (1-5)"
    direct = run_audit(pd.read_csv(SAMPLE / "responses.csv"))
    assert metric_value(app, "Credibility score") == f"{direct.credibility.score} / 100"


@pytest.mark.parametrize("name,data", [
    ("empty.csv", b""),
    ("garbage.parquet", bytes(range(256)) * 40),
    ("header_only.csv", b"score,agent_id\n"),
])
def test_an_unusable_upload_shows_an_inline_error_not_a_traceback(name, data):
    app = new_app().run()
    upload(app, "responses_file", name, data)
    app.run()
    if any(b.key == "run_upload" for b in app.button):
        app.button(key="run_upload").click().run()
    assert not app.exception
    assert md_escape(name) in " ".join(e.value for e in app.error)


def test_a_bad_published_value_is_an_inline_error():
    app = new_app().run()
    upload(app, "responses_file", "responses.csv", (SAMPLE / "responses.csv").read_bytes())
    app.run()
    app.text_input[1].set_value("ninety").run()
    assert not app.exception
    assert any("not a number" in e.value for e in app.error)
    assert app.button(key="run_upload").disabled


def test_markdown_in_user_text_is_shown_literally():
    # a headline that markdown would turn into a remote image, LaTeX and a colour directive
    hostile = "![x](http://evil/p.png) $1$ :red[CSAT]"
    app = new_app().run()
    upload(app, "responses_file", "responses.csv", (SAMPLE / "responses.csv").read_bytes())
    app.run()
    app.text_input[0].set_value(hostile).run()
    app.button(key="run_upload").click().run()
    no_failure(app)
    assert app.title[0].value == md_escape(hostile)
    assert "\\!\\[x\\]" in md_escape(hostile)    # every special character is backslash-escaped
