"""Personal data stays out of shared exports unless the user keeps it.

Specification (issue 6, part 3): columns and free text holding e-mail addresses, phone
numbers or person names are detected (`audit.pii`: regexes for e-mails and phone numbers,
header and value rules for names); every export — report.json, findings.csv, report.html,
the PDF, the rows downloaded from the app — replaces e-mails and phone numbers inside text
by "[email]" / "[phone]" and every value of an identifier column (e-mails, phones, names)
by a keyed hash, so that equal values stay equal; `keep_pii` (CLI `--keep-pii`, the Export
page's checkbox) keeps them; report.json records what was found in `privacy`; the numbers
of the audit do not change, and the report stays byte-identical for the same inputs.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from audit import run_audit
from audit.pdf import executive_pdf
from audit.pii import (Redactor, _may_be_phone, _may_hold, find_phones, is_email, is_phone, looks_like_name,
                       name_header, scan_column)
from audit.render import findings_csv, report_html, report_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"

# Fictitious contact details: RFC 2606 domains, Ofcom's drama numbers, NANP 555-01xx.
AGENT_NAMES = ["Jane Smith", "John Doe", "Mary-Ann O'Neil", "José García"]
CONTACT = "Please call me on 020 7946 0{:03d} or write to x{}@example.org"


def counts(values) -> pd.Series:
    return pd.Series(values, dtype=object).value_counts(sort=False)


# --- detection ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["jane.doe@example.com", "J.Doe+survey@mail.example.co.uk", "müller@example.de"])
def test_an_email_address_is_recognised(text):
    assert is_email(text)


@pytest.mark.parametrize("text", ["@handle", "jane@localhost", "a@b.c", "jane at example dot com"])
def test_a_non_address_is_not_an_email(text):
    assert not is_email(text)


@pytest.mark.parametrize("text", ["+44 20 7946 0958", "+14155550143", "+1 (202) 555-0143", "(202) 555-0143",
                                  "202-555-0143", "202.555.0143", "020 7946 0958", "07700 900123",
                                  "06 12 34 56 78"])
def test_a_phone_number_is_recognised(text):
    assert is_phone(text)


# the report's own text: timestamps, p-values, counts, ids, intervals, dates, hashes, bare digits
@pytest.mark.parametrize("text", ["2026-09-06T15:33:54Z", "p = 0.0025", "13,596 of 20,000", "I018733", "C013958",
                                  "a shift of +1.23 (0.45-2.01)", "01.07.2026", "95 % CI 21.9-23.3 %",
                                  "sha 3f9a1c2b7d1055501432", "12345678901", "2026-07"])
def test_numbers_that_are_not_phone_numbers_are_left_alone(text):
    assert find_phones(text) == []


@pytest.mark.parametrize("header", ["Name", "customer_name", "FirstName", "Agent Name", "surname", "Full name",
                                    "Name of the customer"])
def test_a_header_naming_a_persons_name_is_recognised(header):
    assert name_header(header)


@pytest.mark.parametrize("header", ["Product name", "team_name", "file name", "agent_id", "Customer", "channel"])
def test_other_headers_are_not_name_headers(header):
    assert not name_header(header)


@pytest.mark.parametrize("value", AGENT_NAMES)
def test_firstname_lastname_looks_like_a_name(value):
    assert looks_like_name(value)


@pytest.mark.parametrize("value", ["jane smith", "JANE SMITH", "Jane", "A07", "Live Chat Team Queue"])
def test_other_values_do_not_look_like_names(value):
    assert not looks_like_name(value)


def test_a_column_of_addresses_is_an_identifier_column_hashed_whole():
    hits = scan_column(counts([f"c{i}@example.com" for i in range(50)] + ["unknown"]), "requester",
                       table="responses", column="customer_id")
    assert [(h.kind, h.identifier, h.cells) for h in hits] == [("email", True, 51)]


def test_addresses_and_numbers_inside_comments_are_found_cell_by_cell():
    comments = ["Great service."] * 90 + [CONTACT.format(i, i) for i in range(7)] + ["mail me: a@example.net"] * 3
    hits = scan_column(counts(comments), "comment", table="responses", column="comment")
    assert [(h.kind, h.identifier, h.cells) for h in hits] == [("email", False, 10), ("phone", False, 7)]


def test_a_column_headed_as_a_name_is_a_name_column():
    hits = scan_column(counts(["A01", "A02"]), "Agent Name", table="responses", column="agent_id")
    assert [(h.kind, h.identifier) for h in hits] == [("name", True)]


def test_a_column_of_many_firstname_lastname_values_is_a_name_column():
    names = [f"{f} {l}" for f in ("Alex", "Sam", "Maria", "Chen", "Fatima", "Jonas", "Priya", "Lucas", "Ana")
             for l in ("Smith", "Garcia", "Mueller", "Okafor", "Tanaka", "Rossi", "Novak", "Kaur")]
    assert len(names) == 72           # more than the 60 levels a segment may have (audit.data)
    hits = scan_column(counts(names), "respondent", table="responses", column="respondent")
    assert [(h.kind, h.cells) for h in hits] == [("name", 72)]


def test_a_segment_of_two_word_places_is_not_taken_for_names():
    places = [f"{a} {b}" for a in ("North", "South", "East", "West", "Upper", "Lower") for b in
              ("Hills", "Bay", "Park", "Vale", "Cross")]
    assert scan_column(counts(places * 10), "site", table="responses", column="site") == ()


SIEVE_VALUES = ["R00000001", "+44 20 7946 0958", "2026-07", "(202) 555-0143", "12345678901", "+1 23", "a.b.c",
                "call 020 7946 0958", "٠١٢٣٤٥٦٧ ٨٩", "1 2 3 4 5 6 7", "1 2 3 4 5 6 7 8", "", " ", "x@example.com"]


def test_the_phone_sieve_keeps_values_with_a_separator_and_eight_digits():
    values = pd.Index(SIEVE_VALUES, dtype="str")
    expected = values.str.contains(r"[+ .()-]") & (values.str.count(r"\d") >= 8)   # every value counted
    assert _may_hold(values, "phone").tolist() == list(expected)


@pytest.mark.parametrize("text", SIEVE_VALUES + ["²³⁴⁵⁶⁷⁸⁹", "1234567", "12345678"])
def test_a_text_may_be_a_phone_number_when_eight_of_its_characters_are_digits(text):
    assert _may_be_phone(text) == (sum(c.isdigit() for c in text) >= 8)


# --- the redactor --------------------------------------------------------------------------

def test_addresses_and_numbers_inside_text_become_placeholders():
    assert Redactor().text("call 020 7946 0958 or +1 (202) 555-0143, or mail jane@example.com.") == \
        "call [phone] or [phone], or mail [email]."


def test_an_identifier_value_becomes_its_token_even_inside_a_sentence():
    token = Redactor(b"k").token("Jane Smith", "name")
    redactor = Redactor(b"k", {"jane smith": token})
    # the verdict lower-cases the first letter of a finding it joins ("...; jane Smith's lead")
    assert redactor.text("Jane Smith") == token
    assert redactor.text("The award to Jane Smith is not supported: jane Smith's lead") == \
        f"The award to {token} is not supported: {token}'s lead"


def test_equal_values_get_equal_tokens_and_different_values_different_ones():
    redactor = Redactor(b"k")
    assert redactor.token("a@example.com", "email") == redactor.token("a@example.com", "email")
    assert redactor.token("a@example.com", "email") != redactor.token("b@example.com", "email")


def test_two_report_keys_that_redact_alike_stay_apart():
    out = Redactor().json({"rates": {"x@example.com": 0.1, "y@example.com": 0.2}})
    assert sorted(out["rates"].values()) == [0.1, 0.2]


def redact_every_string(redactor: Redactor, obj):
    # each string redacted where it stands (the reference)
    if isinstance(obj, str):
        return redactor.text(obj)
    if isinstance(obj, list):
        return [redact_every_string(redactor, v) for v in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            key = redactor.text(k)
            out[f"{key} ({redactor.token(k, 'key')})" if key in out else key] = redact_every_string(redactor, v)
        return out
    return obj


def test_a_report_is_redacted_as_if_every_string_were_redacted_where_it_stands():
    redactor = Redactor(b"k", {"jane smith": Redactor(b"k").token("Jane Smith", "name")})
    report = {"units": [{"unit": "Jane Smith", "p": 0.01, "note": "call 020 7946 0958"},
                        {"unit": "Jane Smith", "p": None, "rows": [2, 3]}],
              "Jane Smith": {"x@example.com": 1, "y@example.com": 2, "jane smith": "Jane Smith's lead"}}
    assert redactor.json(report) == redact_every_string(redactor, report)


def test_a_table_of_rows_keeps_its_numbers_and_redacts_its_text():
    rows = pd.DataFrame({"(row in file)": [2, 3], "comment": ["ok", "mail a@example.com"]})
    out = Redactor().frame(rows)
    assert out["(row in file)"].tolist() == [2, 3] and out["comment"].tolist() == ["ok", "mail [email]"]


# --- the audit: a responses export full of personal data -------------------------------------

def personal_export(order: int = 1) -> pd.DataFrame:
    """1,500 sample responses whose agents have names (header "Agent Name"), whose customer ids
    are e-mail addresses, with a phone column and a comment column (every 7th with contacts);
    `order` -1 reverses the rows."""
    frame = pd.read_csv(SAMPLE / "responses.csv", dtype=str, keep_default_na=False).head(1500).iloc[::order]
    agents = sorted(frame["agent_id"].unique())
    names = dict(zip(agents, AGENT_NAMES + [f"Agent Number{i}" for i in range(len(agents))]))
    frame["agent_id"] = frame["agent_id"].map(names)
    frame["customer_id"] = frame["customer_id"].str.lower() + "@example.com"
    frame["Phone"] = [f"+44 7700 900{i % 1000:03d}" for i in range(len(frame))]
    frame["comment"] = ["" if i % 7 else CONTACT.format(i % 1000, i) for i in range(len(frame))]
    return frame.rename(columns={"agent_id": "Agent Name", "customer_id": "Customer Email"})


MAPPING = {"agent_id": "Agent Name", "customer_id": "Customer Email"}
CLAIM = {"title": "Jane Smith - Customer Service Champion", "type": "best_unit", "unit_column": "agent_id",
         "unit": "Jane Smith"}


@pytest.fixture(scope="module")
def report():
    return run_audit(personal_export(), None, CLAIM, MAPPING, n_simulations=200)


@pytest.fixture(scope="module")
def exports(report):
    pdf = executive_pdf(report)
    pdf_text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return {"report.json": report_json(report), "findings.csv": findings_csv(report),
            "report.html": report_html(report), "executive.pdf": pdf_text}


# what `personal_export` and the sample's comments hold (report.html also carries plotly.js, whose
# source has an author's address and digit runs of its own)
PERSONAL = re.compile(r"[\w.]+@example\.(com|org|net)|7946 0\d{3}|7700 900\d{3}|555-01\d\d|"
                      + "|".join(AGENT_NAMES), re.IGNORECASE)


def personal_data_in(text: str) -> list[str]:
    return [m.group() for m in PERSONAL.finditer(text)]


def test_the_scan_finds_every_kind_of_personal_data(report):
    found = {(c.column, c.kind, c.identifier) for c in report.privacy.columns}
    assert found == {("customer_id", "email", True), ("agent_id", "name", True), ("Phone", "phone", True),
                     ("comment", "email", False), ("comment", "phone", False)}


@pytest.mark.parametrize("name", ["report.json", "findings.csv", "report.html", "executive.pdf"])
def test_exports_carry_no_personal_data_by_default(report, exports, name):
    assert "Jane Smith" in report.claim.title           # the data really hold it
    assert personal_data_in(exports[name]) == []


@pytest.mark.parametrize("render", [report_json, findings_csv, report_html])
def test_keep_pii_keeps_the_personal_data_in_the_exports(report, render):
    assert "Jane Smith" in render(replace(report, keep_pii=True))


def test_the_claimed_agent_has_one_token_in_claim_details_and_sentences(report):
    d = report.to_dict()
    token = d["claim"]["unit"]
    ranks = next(c for c in d["checks"] if c["id"] == "rank_uncertainty")
    assert re.fullmatch(r"name-[0-9a-f]{12}", token)
    assert d["claim"]["title"] == f"{token} - Customer Service Champion"
    assert ranks["details"]["claimed_unit"] == token
    assert token in ranks["summary"] and token in d["credibility"]["verdict"]


def numbers(obj) -> list:
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in numbers(v)]
    return [] if isinstance(obj, str) else [obj]


def test_redaction_changes_no_number_and_merges_no_entry(report):
    kept, redacted = replace(report, keep_pii=True).to_dict(), report.to_dict()
    for d in (kept, redacted):
        d.pop("privacy")
    assert numbers(redacted) == numbers(kept)


def test_report_json_records_what_was_redacted(report):
    privacy = json.loads(report_json(report))["privacy"]
    assert privacy["personal_data"] == "redacted"
    comment = {c["kind"]: c for c in privacy["columns"] if c["column"] == "comment"}
    assert comment["email"]["treatment"] == "replaced in text" and comment["email"]["cells"] == 1500 // 7 + 1
    assert json.loads(report_json(replace(report, keep_pii=True)))["privacy"]["personal_data"] == "kept"


def test_the_same_inputs_give_a_byte_identical_redacted_report(report):
    again = run_audit(personal_export(), None, CLAIM, MAPPING, n_simulations=200)
    assert report_json(again) == report_json(report)


def test_the_hash_key_comes_from_the_data_not_a_constant(report):
    # a token is neither the plain hash of the value nor a hash under a key fixed in the code,
    # which would let anyone holding the report confirm a guessed value
    value, token = "Jane Smith", report.to_dict()["claim"]["unit"]
    assert token != "name-" + hashlib.sha256(value.encode()).hexdigest()[:12]
    assert token not in {Redactor(key).token(value, "name") for key in (b"", b"survey-auditor/pii/v1")}
    reordered = run_audit(personal_export(order=-1), None, CLAIM, MAPPING, n_simulations=200)
    assert reordered.to_dict()["claim"]["unit"] != token


# --- command line ------------------------------------------------------------------------

def run_cli(tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess, str]:
    export = tmp_path / "export.csv"
    personal_export().head(400).to_csv(export, index=False)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "audit", "run", str(export), "--column", "agent_id=Agent Name",
                             "--column", "customer_id=Customer Email", "--out", str(out), *flags],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result, (out / "report.json").read_text(encoding="utf-8") + (out / "report.html").read_text()


def test_cli_redacts_by_default_and_says_so(tmp_path):
    result, written = run_cli(tmp_path)
    assert personal_data_in(written) == [] and "redacted in the outputs (--keep-pii keeps them)" in result.stdout


def test_cli_keep_pii_keeps_them(tmp_path):
    result, written = run_cli(tmp_path, "--keep-pii")
    assert personal_data_in(written) != [] and "kept in the outputs" in result.stdout


# --- the bundled sample ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


def test_the_samples_comments_are_found_as_free_text_with_contacts(sample):
    assert {(c.column, c.kind, c.identifier) for c in sample.privacy.columns} == \
        {("comment", "email", False), ("comment", "phone", False)}


def test_the_samples_downloaded_rows_carry_placeholders_instead_of_contacts(sample):
    raw = sample.data.responses["comment"].dropna()
    with_contacts = raw[raw.map(lambda t: bool(personal_data_in(t)))]
    assert len(with_contacts) >= 40                     # sample_data/README.md: 48 comments with contacts
    redacted = sample.privacy.redactor.frame(sample.data.responses.loc[with_contacts.index])
    assert redacted["comment"].map(personal_data_in).map(len).sum() == 0
    assert redacted["comment"].str.contains(r"\[(?:email|phone)\]").all()


# --- the app -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    app.button(key="try_sample").click().run()
    return app


def integrity_comments(app: AppTest) -> list[str]:
    app.switch_page("pages/integrity.py").run()
    return [c for frame in app.dataframe for c in frame.value.get("comment", pd.Series(dtype=object)).dropna()]


def test_the_export_page_says_what_was_redacted_and_offers_to_keep_it(app):
    app.switch_page("pages/export.py").run()
    assert not app.exception
    assert any("comment" in c.value and "redacted" in c.value for c in app.caption)
    assert app.checkbox(key="keep_pii_box").value is False


def test_the_integrity_pages_rows_are_redacted_until_the_user_keeps_them(app, sample):
    shown = integrity_comments(app)
    assert any("[email]" in c or "[phone]" in c for c in shown)
    assert sum(len(personal_data_in(c)) for c in shown) == 0
    app.switch_page("pages/export.py").run()
    app.checkbox(key="keep_pii_box").check().run()
    assert any("kept in the exports" in c.value for c in app.caption)
    assert sum(len(personal_data_in(c)) for c in integrity_comments(app)) > 0


def test_text_counts_of_arrow_text_are_pandas_value_counts_without_blanks():
    # reference: pandas' value_counts of the values as text, blanks dropped by str.strip, in
    # the values' order; every character Python strips, and some it does not (zero-width space)
    from audit.pii import _text_counts

    rng = np.random.default_rng(8)
    odd = [" ", "", "\t", "\x1f", "\x85", "\u3000", "\u200b", " x ", "ü", "\u2028"]
    values = [odd[i % len(odd)] if i % 7 == 0 else f"id{rng.integers(0, 20_000)}" for i in range(50_000)]
    values[::11] = [None] * len(values[::11])
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow"), name="customer_id")
    text = series.dropna().astype(str)
    expected = text[text.str.strip() != ""].value_counts(sort=False).sort_index()
    got = _text_counts(series)
    pd.testing.assert_series_equal(got, expected)
    assert "\u200b" in got.index and "\u3000" not in got.index


def test_text_counts_of_a_categorical_are_those_of_its_labels_as_text():
    # reference: the generic path (value_counts of the values as text, blanks dropped); a
    # category no row uses is not counted
    from audit.pii import _text_counts

    values = pd.Series(["a", " ", None, "b", "a", "x@y.com", "", "b ", "b", "\u200b"] * 3, name="channel")
    expected = _text_counts(values.astype(object))
    categorical = values.astype("category").cat.add_categories(["unused@example.com"])
    pd.testing.assert_series_equal(_text_counts(categorical), expected)
    assert expected.to_dict() == {"a": 6, "b": 6, "b ": 3, "x@y.com": 3, "\u200b": 3}


def test_text_counts_of_a_column_with_only_blanks_is_empty():
    from audit.pii import _text_counts

    for dtype in (pd.StringDtype("pyarrow"), object, "category"):
        got = _text_counts(pd.Series([" ", None, ""], dtype=dtype, name="note"))
        assert got.empty and got.name == "count" and got.index.name == "note"


@pytest.mark.parametrize("value", ["jane@example.com", "Jane Smith", "+44 20 7946 0958", "(020)79460958",
                                   "020-7946-0958", "020.7946.0958", " "])
def test_a_column_with_an_at_sign_a_space_or_a_phone_separator_is_counted_and_scanned(value):
    from audit.pii import _may_hold_pii

    series = pd.Series(["C0001", "C0002", value, None], dtype=pd.StringDtype("pyarrow"))
    assert _may_hold_pii(series, "customer_id")


def test_a_column_of_ids_is_not_counted_unless_its_header_names_a_person():
    from audit.pii import _may_hold_pii

    series = pd.Series([f"C{i:08d}" for i in range(1000)] + [None], dtype=pd.StringDtype("pyarrow"))
    assert not _may_hold_pii(series, "customer_id")
    assert _may_hold_pii(series, "customer_name")


def test_a_column_the_sieve_passes_over_holds_nothing_the_scan_would_find():
    # reference: scan_column itself, on text of every other printable ASCII character (long
    # digit runs, "#", "/", ":", "_" included): the sieve may skip only what finds nothing
    from audit.pii import _may_hold_pii, _text_counts

    alphabet = [c for c in map(chr, range(33, 127)) if c not in "@+ .()-"]
    rng = np.random.default_rng(9)
    values = ["".join(rng.choice(alphabet, rng.integers(1, 16))) for _ in range(5000)]
    values += ["0" * 12, "020794609581234", "JaneSmith"]
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow"), name="notes")
    assert not _may_hold_pii(series, "notes")
    assert scan_column(_text_counts(series), "notes", table="responses", column="notes") == ()
