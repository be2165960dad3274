"""Hostile text in the data never acts in an export.

Specification (issue 6, part 2): a corpus of hostile cell values and headers — spreadsheet
formulas, HTML/JavaScript, template syntax, SQL, control and bidi characters, a
100,000-character string — placed in the agent ids, segment values, channel names, a
free-text comment column, column headers and the claim's title and unit, goes through every
export: report.json stays valid JSON and round-trips; findings.csv and the rows downloaded
from the app neutralise formulas (OWASP: a cell starting with = + - @ tab or CR gets a
leading apostrophe, and every cell is quoted, so a spreadsheet splitting on ";" cannot
start a new cell with a formula either); report.html, opened in the real browser with the
network cut, runs none of the injected scripts, follows none of the injected links, and
shows the hostile text as text; the PDF is built.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from audit import run_audit
from audit.pdf import executive_pdf
from audit.render import FORMULA_TRIGGERS, findings_csv, frame_csv, report_html, report_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
CHROMIUM = Path("/usr/bin/chromium")
LONG = "L" * 100_000

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1", "a;=1+1"]
MARKUP = ["<script>window.__pwned=1</script>", '<img src=x onerror="window.__pwned=2">',
          '<a href="javascript:window.__pwned=3">js link</a>', '<a href="https://evil.example/">click me</a>',
          "</script><script>document.title='pwned'</script>", '<svg onload="window.__pwned=4">',
          '"><iframe src="javascript:window.__pwned=5"></iframe>', '<span style="color:white">hidden</span>']
TEMPLATES = ["{{7*7}}", "${7*7}", "{% if 1 %}seven{% endif %}", "%{y}"]
OTHERS = ["'); DROP TABLE population; --", "nul\x00 bell\x07 esc\x1b[31m", "\u202egnp.exe",
          "zero\u200bwidth\u200d\ufeff"]
CORPUS = FORMULAS + MARKUP + TEMPLATES + OTHERS + [LONG]
REGION_HEADER = '=1+1<script>window.__pwned=6</script>"; DROP TABLE x; --'
COMMENT_HEADER = '@SUM(1)<img src=x onerror="window.__pwned=7">'
CLAIMED = MARKUP[0]
TITLE = " ".join(FORMULAS + MARKUP + TEMPLATES + OTHERS)


def hostile_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,200 sample responses and their 20,000 interactions with the corpus as agent ids (one
    agent each), channel and region names, a region header, and a comment column."""
    responses = pd.read_csv(SAMPLE / "responses.csv", dtype=str, keep_default_na=False).head(1200)
    responses = responses.drop(columns="comment")       # the sample's own comments hold e-mail addresses
    population = pd.read_csv(SAMPLE / "interactions.csv", dtype=str, keep_default_na=False)
    agents = sorted(population["agent_id"].unique())
    units = dict(zip(agents, CORPUS))
    segments = {"sms": MARKUP[1], "email": FORMULAS[0], "North": TEMPLATES[0], "South": OTHERS[2]}
    for table in (responses, population):
        table["agent_id"] = table["agent_id"].map(lambda a: units.get(a, a))
        for column in ("channel", "region"):
            table[column] = table[column].replace(segments)
        table.rename(columns={"region": REGION_HEADER}, inplace=True)
    responses[COMMENT_HEADER] = [CORPUS[i % len(CORPUS)] for i in range(len(responses))]
    return responses, population


@pytest.fixture(scope="module")
def hostile():
    responses, population = hostile_tables()
    claim = {"title": TITLE, "type": "best_unit", "unit_column": "agent_id", "unit": CLAIMED}
    return run_audit(responses, population, claim, n_simulations=500)


@pytest.fixture(scope="module")
def hostile_dict(hostile):
    return hostile.to_dict()


def parse_csv(text: str) -> list[list[str]]:
    csv.field_size_limit(sys.maxsize)
    return list(csv.reader(io.StringIO(text, newline="")))


PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")   # a spreadsheet reads it as a number


def cell_starts(text: str, separator: str) -> list[str]:
    """How each cell begins when a spreadsheet whose list separator is `separator` opens the
    CSV: every double quote opens or closes a quoted run (Excel, LibreOffice), and a cell
    begins at the start, after a separator or a line break outside quotes; a quoted cell's
    text begins after its quote."""
    parts = text.split('"')                 # even parts are outside quotes, odd parts inside
    starts = []
    for i in range(0, len(parts), 2):
        pieces = re.split(f"[{re.escape(separator)}\r\n]", parts[i])
        for j, piece in enumerate(pieces):
            if j == 0 and i > 0:            # the rest of a cell that began before the quotes
                continue
            starts.append(piece if piece or i + 1 >= len(parts) else parts[i + 1])
    return starts


def live_formulas(text: str) -> list[str]:
    """Cells a spreadsheet would evaluate (starting with = + - @ tab or CR and not a plain
    number), whichever of comma, semicolon or tab it splits on."""
    return [cell[:40] for separator in ",;\t" for cell in cell_starts(text, separator)
            if cell.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(cell)]


def strings(obj) -> list[str]:
    """Every string of a JSON-like object, keys included."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [t for k, v in obj.items() for t in strings(k) + strings(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in strings(v)]
    return []


# --- the audit runs and report.json ------------------------------------------------------

def test_the_corpus_reaches_the_report_as_units_segments_and_headers(hostile_dict):
    # guards the tests below: each placement of the corpus is really in the report
    texts = strings(hostile_dict)
    assert [v[:20] for v in CORPUS if not any(v in t for t in texts)] == []
    assert REGION_HEADER in hostile_dict["audit"]["segments"]
    assert sum(LONG in t for t in texts) >= 2


def test_report_json_is_valid_and_round_trips(hostile, hostile_dict):
    text = report_json(hostile)
    back = json.loads(text)
    assert back == hostile_dict
    assert back["claim"]["title"] == TITLE and back["claim"]["unit"] == CLAIMED


def test_report_json_escapes_control_characters(hostile):
    text = report_json(hostile)
    assert "\x00" not in text and "\x1b" not in text and "\r" not in text   # JSON escapes them (\u0000, ...)


# --- CSV ---------------------------------------------------------------------------------

def test_findings_csv_keeps_one_row_per_check(hostile):
    rows = parse_csv(findings_csv(hostile))
    assert len(rows) == 1 + len(hostile.checks) and {len(r) for r in rows} == {8}


def test_findings_csv_has_no_live_formula_whatever_the_separator(hostile):
    # Excel in most of Europe splits on ";": unquoted, "a;=1+1" would become a cell "=1+1"
    text = findings_csv(hostile)
    assert "a;=1+1" in text
    assert live_formulas(text) == []


def test_downloaded_rows_neutralise_formulas_in_cells_and_headers():
    responses, _ = hostile_tables()
    text = frame_csv(responses)
    rows = parse_csv(text)
    assert len(rows) == 1 + len(responses)
    assert live_formulas(text) == []
    assert rows[0][responses.columns.get_loc(COMMENT_HEADER)] == "'" + COMMENT_HEADER


def test_downloaded_rows_keep_the_hostile_text_otherwise_intact():
    responses, _ = hostile_tables()
    rows = parse_csv(frame_csv(responses))
    comments = [r[responses.columns.get_loc(COMMENT_HEADER)] for r in rows[1:]]
    restored = [c[1:] if c.startswith("'") and c[1:].startswith(FORMULA_TRIGGERS) else c for c in comments]
    assert restored == responses[COMMENT_HEADER].tolist()


# --- report.html -----------------------------------------------------------------------------

def test_html_carries_no_hostile_markup_unescaped(hostile):
    page = report_html(hostile)
    for value in MARKUP:
        assert value not in page
    outside_scripts = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    assert not re.search(r"<(iframe|img|svg)\b", outside_scripts)
    assert re.findall(r"<a\b[^>]*>", outside_scripts) == re.findall(r"<a href='#check-\w+'>", outside_scripts)
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all(attrs == ' type="text/javascript"' for attrs in scripts)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def opened_report(browser, hostile, tmp_path_factory):
    """report.html opened offline; what the page did, read after its scripts and charts ran."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(report_html(hostile), encoding="utf-8")
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:")) else requests.append(r.url))
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)       # time for an injected onerror/onload to fire
        seen = page.evaluate("""() => ({
            pwned: typeof window.__pwned, title: document.title,
            handlers: document.querySelectorAll('[onerror],[onload],iframe,img').length,
            links: Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href')
                                                                 || a.getAttribute('xlink:href')).filter(h => h),
            styled: Array.from(document.querySelectorAll('svg tspan[style]'))
                         .filter(t => t.getAttribute('style').includes('white')).length,
            body: document.body.innerText,
            svg: Array.from(document.querySelectorAll('svg text')).map(t => t.textContent).join('\\n')})""")
    finally:
        context.close()
    return {**seen, "requests": requests, "dialogs": dialogs}


def test_browser_runs_no_injected_script(opened_report):
    assert opened_report["pwned"] == "undefined"
    assert opened_report["dialogs"] == []
    assert opened_report["title"].startswith("Credibility audit: ")      # not 'pwned'


def test_browser_gets_no_injected_element_link_or_request(opened_report):
    assert opened_report["handlers"] == 0
    assert all(link.startswith("#check-") for link in opened_report["links"]), opened_report["links"]
    assert opened_report["styled"] == 0
    assert opened_report["requests"] == []


def test_browser_shows_the_hostile_text_as_text(opened_report):
    for value in MARKUP[:2] + TEMPLATES[:2]:
        assert value in opened_report["body"]
    # chart labels (unit names) are drawn as the literal text too, not as plotly markup
    assert MARKUP[3] in opened_report["svg"] and MARKUP[0] in opened_report["svg"]


# --- PDF -----------------------------------------------------------------------------------

def test_pdf_is_built_and_shows_the_hostile_title_as_text(hostile):
    data = executive_pdf(hostile)
    assert data.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "window.__pwned=1" in text and "{{7*7}}" in text


def test_pdf_is_built_when_the_claimed_unit_has_a_100000_character_name():
    # its name is quoted in the verdict, which sits in one table cell of the first page
    responses, _ = hostile_tables()
    report = run_audit(responses, None, {"type": "best_unit", "unit_column": "agent_id", "unit": LONG},
                       n_simulations=200)
    assert LONG in report.to_dict()["credibility"]["verdict"]
    assert executive_pdf(report).startswith(b"%PDF")


# --- claim file ------------------------------------------------------------------------------

def test_a_claim_holding_half_a_surrogate_pair_is_exit_2_not_an_internal_error(tmp_path):
    claim = tmp_path / "claim.json"
    claim.write_text('{"title": "CSAT \\ud800 95 %", "type": "level"}', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "audit", "run", str(SAMPLE / "responses.csv"), "--claim",
                             str(claim), "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "claim.json" in result.stderr and "title" in result.stderr and "Traceback" not in result.stderr
