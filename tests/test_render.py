"""Exports are safe and self-contained: CSV cells cannot run as formulas (OWASP), the HTML
report escapes user text, inlines plotly.js once and loads nothing from the network, and the
executive PDF carries the verdict. Same report -> identical bytes, for both documents."""
import csv
import html
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from pypdf import PdfReader

from audit import run_audit
from audit.figures import all_charts
from audit.pdf import executive_pdf
from audit.render import STATUS_LABELS, chart_div_id, frame_csv, report_html, safe_cell, to_csv

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "contact_center"
HOSTILE_TITLE = "<script>alert(1)</script> <b>& Zufriedenheit – 95 % ✓ 满意"
HOSTILE_UNIT = '"><img src=x onerror=alert(1)>'


# --- CSV ---------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)",
                                     "\tcmd", "\rcmd", "=1"])
def test_formula_cells_are_neutralised(hostile):
    assert safe_cell(hostile) == "'" + hostile


@pytest.mark.parametrize("number", ["-0.5", "-12", "+3e-4", "0.25"])
def test_plain_numbers_are_left_numeric(number):
    assert safe_cell(number) == number


def test_csv_roundtrip_keeps_text_and_neutralises_header():
    text = to_csv([["a,b", 'say "hi"', "=cmd"]], ["=h", "x", "y"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=h", "x", "y"], ["a,b", 'say "hi"', "'=cmd"]]


def test_csv_cell_with_a_carriage_return_stays_in_its_row():
    text = to_csv([["a\rb", "c"], ["d", "e"]], ["x", "y"])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["x", "y"], ["a\rb", "c"], ["d", "e"]]


@pytest.mark.parametrize("hostile", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_frame_csv_neutralises_formula_cells(hostile):
    rows = list(csv.reader(io.StringIO(frame_csv(pd.DataFrame({"unit": [hostile]})), newline="")))
    assert rows[1] == ["'" + hostile]


def test_frame_csv_neutralises_the_header():
    rows = list(csv.reader(io.StringIO(frame_csv(pd.DataFrame({"=HYPERLINK(1)": [1], "@x": [2]})), newline="")))
    assert rows[0] == ["'=HYPERLINK(1)", "'@x"]


def test_frame_csv_round_trips_ordinary_values():
    frame = pd.DataFrame({"unit": ["A01", "a,b", 'say "hi"', "Zürich 满意"], "n": [1, 20, -3, 4000],
                          "share": [0.25, -0.5, 1.0, 0.125], "note": ["x", None, "y", "z"]})
    back = pd.read_csv(io.StringIO(frame_csv(frame)))
    pd.testing.assert_frame_equal(back, frame.astype({"note": object}).fillna({"note": float("nan")}),
                                  check_dtype=False)


# --- reports used below (one audit each) --------------------------------------------------

@pytest.fixture(scope="module")
def sample_report():
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def sample_page(sample_report):
    return report_html(sample_report)


@pytest.fixture(scope="module")
def sample_charts(sample_report):
    return all_charts(sample_report.to_dict())


@pytest.fixture(scope="module")
def hostile_report():
    """The sample with agent A18 renamed to an HTML-injection string, awarded under a
    hostile, non-Latin claim title."""
    responses = pd.read_csv(SAMPLE / "responses.csv")
    interactions = pd.read_csv(SAMPLE / "interactions.csv")
    for frame in (responses, interactions):
        frame["agent_id"] = frame["agent_id"].replace("A18", HOSTILE_UNIT)
    claim = {"title": HOSTILE_TITLE, "type": "best_unit", "metric": "top2box", "scale": [1, 5],
             "unit_column": "agent_id", "unit": HOSTILE_UNIT}
    return run_audit(responses, interactions, claim)


@pytest.fixture(scope="module")
def hostile_page(hostile_report):
    return report_html(hostile_report)


def pdf_text(data: bytes) -> str:
    """The PDF's text with whitespace runs (line breaks) collapsed to one space."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def section(page: str, start: str, end: str = "</section>") -> str:
    begin = page.index(start)
    return page[begin:page.index(end, begin)]


# --- HTML ----------------------------------------------------------------------------------

def test_html_inlines_plotly_js_exactly_once(sample_page):
    bundle = get_plotlyjs()
    middle = bundle[len(bundle) // 2: len(bundle) // 2 + 400]
    assert sample_page.count(middle) == 1


def test_html_has_one_div_per_chart_in_order(sample_page, sample_charts):
    used: set[str] = set()
    expected = [chart_div_id(chart.key, used) for chart in sample_charts]
    assert len(expected) >= 5
    assert re.findall(r'<div id="(chart-[^"]+)"', sample_page) == expected


def test_html_shows_each_chart_title_and_takeaway(sample_page, sample_charts):
    for chart in sample_charts:
        assert html.escape(chart.title) in sample_page
        assert html.escape(chart.takeaway) in sample_page


def test_html_loads_nothing_from_the_network(sample_page):
    assert not re.search(r"<(script|link|img|iframe|embed|object|source)\b[^>]*\b(src|href|data)\s*=",
                         sample_page, re.IGNORECASE)
    style = "".join(re.findall(r"<style>(.*?)</style>", sample_page, re.DOTALL))
    assert "@import" not in style and "url(" not in style


def test_html_is_deterministic(sample_report, sample_page):
    assert report_html(sample_report) == sample_page


def test_html_executive_block_comes_first_with_score_verdict_and_key_findings(sample_report, sample_page):
    d = sample_report.to_dict()
    cred = d["credibility"]
    executive = section(sample_page, "<section class=\"exec\"")
    assert sample_page.index("<section class=\"exec\"") < sample_page.index("<section class='check")
    assert f"{cred['score']}<small" in executive and f">{cred['grade']}</div>grade" in executive
    assert html.escape(cred["verdict"]) in executive
    titles = {c["id"]: c["title"] for c in d["checks"]}
    assert len(cred["key_findings"]) == 3
    for check_id in cred["key_findings"]:
        assert html.escape(titles[check_id]) in executive


def test_html_executive_block_shows_claimed_and_adjusted_metric_with_cis_and_caps(sample_report, sample_page):
    d = sample_report.to_dict()
    executive = section(sample_page, "<section class=\"exec\"")
    adjust = sample_report.check("nonresponse_adjustment").details
    for text in ("96.4 %", "95.8 % – 97.0 %", "94.1 %",
                 f"{100 * adjust['ci_low']:.1f} % – {100 * adjust['ci_high']:.1f} %"):
        assert html.escape(text) in executive
    for cap in d["credibility"]["caps"]:
        assert html.escape(cap) in executive


def test_html_every_check_states_its_status_in_words(sample_report, sample_page):
    for check in sample_report.to_dict()["checks"]:
        body = section(sample_page, f"<section class='check status-{check['status']}' id='check-{check['id']}'>")
        assert STATUS_LABELS[check["status"]] in body
        assert html.escape(check["summary"]) in body


def test_html_every_check_has_a_table_of_its_main_numbers(sample_page):
    body = section(sample_page, "id='check-nonresponse_adjustment'")
    assert "<dl class='numbers'>" in body and "design effect" in body and "2.41" in body


def test_html_print_css_keeps_checks_and_charts_whole(sample_page):
    css = sample_page[sample_page.index("@media print"):]
    assert re.search(r"\.check[^{]*\{[^}]*break-inside: avoid", css)
    assert re.search(r"figure\.chart[^{]*\{[^}]*break-inside: avoid", css)


def test_html_escapes_a_hostile_claim_title(hostile_page):
    assert "<script>alert(1)</script>" not in hostile_page
    assert "<b>&" not in hostile_page
    assert html.escape(HOSTILE_TITLE) in hostile_page


def test_html_escapes_a_hostile_unit_name(hostile_report, hostile_page):
    assert HOSTILE_UNIT not in hostile_page
    assert "<img" not in hostile_page
    escaped = html.escape(HOSTILE_UNIT)
    assert escaped in section(hostile_page, "<section class=\"exec\"")   # the award's winner, in the table
    assert hostile_page.count(escaped) >= 5


def test_html_scripts_carry_no_raw_user_text(hostile_page):
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", hostile_page, re.DOTALL)
    assert scripts and all("alert(1)</" not in s and "<img" not in s for s in scripts)


# --- PDF -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_pdf(sample_report):
    return executive_pdf(sample_report)


def test_pdf_is_a_pdf(sample_pdf):
    assert sample_pdf.startswith(b"%PDF")


def test_pdf_is_deterministic(sample_report, sample_pdf):
    assert executive_pdf(sample_report) == sample_pdf


def test_pdf_states_score_grade_and_verdict(sample_report, sample_pdf):
    cred = sample_report.credibility
    text = pdf_text(sample_pdf)
    assert f"Score {cred.score} of 100, grade {cred.grade}" in text
    assert " ".join(cred.verdict.split()) in text


def test_pdf_names_each_key_finding(sample_report, sample_pdf):
    text = pdf_text(sample_pdf)
    for check_id in sample_report.credibility.key_findings:
        assert sample_report.check(check_id).title in text


def test_pdf_lists_every_check_and_the_inputs(sample_report, sample_pdf):
    text = pdf_text(sample_pdf)
    for check in sample_report.checks:
        assert check.title in text
    for block in sample_report.inputs.values():
        assert block["name"] in text and block["sha256"][:12] in text and f"{block['rows']:,}" in text


def test_pdf_shows_the_metric_table(sample_report, sample_pdf):
    text = pdf_text(sample_pdf)
    assert "96.4 % 95.8 % – 97.0 %" in text and "population-adjusted" in text and "published value" in text


def test_pdf_keeps_a_hostile_non_latin_title_as_text(hostile_report):
    data = executive_pdf(hostile_report)
    assert data.startswith(b"%PDF")
    assert HOSTILE_TITLE in pdf_text(data)
