"""The loader: every upload becomes canonical frames, and every row is accounted for.

Reference values are either written into the fixture by the test itself (the cell a row
holds, its position in the file) or computed independently inside the test (hashlib for
SHA-256, pandas.Timestamp for instants, codecs for encodings). SPEC "Inputs" and the
loader brief define the canonical columns; the row ledger rule is
rows_read == len(frame) + sum(dropped counts).
"""
from __future__ import annotations

import codecs
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.errors import InputError
from audit.loading import (
    MAX_LABEL_LEVELS,
    POPULATION_FIELDS,
    RESPONSE_FIELDS,
    LoadedTable,
    RowNote,
    detect_mapping,
    infer_scale,
    load_mapping,
    load_population,
    load_responses,
    read_table,
)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(rows: list[list[object]], sep: str = ",") -> str:
    return "\n".join(sep.join(str(c) for c in row) for row in rows) + "\n"


def ledger_balances(table: LoadedTable) -> bool:
    return table.rows_read == len(table.frame) + sum(n.count for n in table.dropped)


def note(table_notes: tuple[RowNote, ...], reason: str) -> RowNote:
    matches = [n for n in table_notes if n.reason == reason]
    assert matches, f"no note {reason!r} in {table_notes}"
    return matches[0]


def write_parquet(frame: pd.DataFrame, path) -> None:
    frame.to_parquet(path)


BASIC = [["Ticket ID", "Agent Name", "CSAT Score", "Survey Date", "Channel"],
         ["T1", "A1", 5, "2024-07-01 13:05", "chat"],
         ["T2", "A2", 4, "2024-07-02 09:00", "phone"],
         ["T3", "A1", 3, "2024-07-03 10:30", "email"]]


# ------------------------------------------------------------------------------------------
# read_table: formats, encodings, delimiters
# ------------------------------------------------------------------------------------------
def test_read_table_returns_raw_strings_without_type_guessing(tmp_path):
    path = write(tmp_path, "r.csv", "id,score,when\n007,5,2024-07-01\n")
    frame, fmt, _, _ = read_table(path)
    assert fmt == "table"
    assert frame.loc[2].tolist() == ["007", "5", "2024-07-01"]   # leading zero kept, nothing parsed


def test_read_table_index_is_the_spreadsheet_row_number(tmp_path):
    frame, *_ = read_table(write(tmp_path, "r.csv", csv_text(BASIC)))
    assert frame.index.tolist() == [2, 3, 4]                      # header = row 1


def test_sha256_is_the_hash_of_the_file_bytes(tmp_path):
    path = write(tmp_path, "r.csv", csv_text(BASIC))
    assert load_responses(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_dataframe_source_has_no_hash_and_rows_numbered_from_2():
    table = load_responses(pd.DataFrame({"score": [5, 4, 1]}), name="frame")
    assert table.sha256 is None and table.name == "frame"
    assert table.frame["_source_row"].tolist() == [2, 3, 4]


def test_a_loaded_frame_passed_back_keeps_its_original_row_numbers():
    first = load_responses(pd.DataFrame({"score": [5, None, 4, 3]}))
    again = load_responses(first.frame.iloc[1:])
    assert again.frame["_source_row"].tolist() == [4, 5]
    assert "_source_row (unmapped)" not in again.frame.columns


def test_bytes_and_uploaded_file_objects_are_read_with_their_name(tmp_path):
    data = csv_text(BASIC).encode()

    class Uploaded:                         # the part of Streamlit's UploadedFile the loader uses
        name = "upload.csv"

        def getvalue(self) -> bytes:
            return data

    stream = io.BytesIO(data)
    stream.name = "/some/dir/stream.csv"
    assert load_responses(Uploaded()).name == "upload.csv"
    assert load_responses(stream).name == "stream.csv"
    assert load_responses(data, name="raw.csv").frame["score"].tolist() == [5.0, 4.0, 3.0]


@pytest.mark.parametrize("sep, label", [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_delimiter_is_sniffed_and_noted(tmp_path, sep, label):
    table = load_responses(write(tmp_path, "r.csv", csv_text(BASIC, sep)))
    assert table.frame["agent_id"].tolist() == ["A1", "A2", "A1"]
    assert f"delimiter {label} detected" in table.notes


def test_utf8_byte_order_mark_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "Score,Agent\n5,Zoë\n".encode())
    table = load_responses(path)
    assert table.mapping["score"] == "Score"
    assert table.frame["agent_id"].tolist() == ["Zoë"]
    assert "decoded as UTF-8 (with byte-order mark)" in table.notes


def test_utf16_unicode_text_export_is_decoded(tmp_path):
    # Excel "Unicode text": UTF-16 LE with BOM, tab-delimited
    path = tmp_path / "unicode.txt"
    path.write_bytes("CSAT\tAgent Name\n5\tRenée\n2\tJürgen\n".encode("utf-16"))
    table = load_responses(path)
    assert table.frame["agent_id"].tolist() == ["Renée", "Jürgen"]
    assert any("UTF-16" in n for n in table.notes)


def test_cp1252_is_the_fallback_for_non_utf8_bytes(tmp_path):
    path = write(tmp_path, "win.csv", "CSAT,Agent Name\n5,José – senior\n", encoding="cp1252")
    table = load_responses(path)
    assert table.frame["agent_id"].tolist() == ["José – senior"]
    assert any(n.startswith("decoded as cp1252") for n in table.notes)


def test_latin1_is_the_last_resort_when_cp1252_cannot_decode(tmp_path):
    # 0x81 is undefined in cp1252 but is a (control) character in Latin-1
    path = tmp_path / "l1.csv"
    path.write_bytes(b"CSAT,Agent Name\n5,Andr\xe9\x81\n")
    table = load_responses(path)
    assert table.frame["agent_id"].tolist() == [b"Andr\xe9\x81".decode("latin-1")]
    assert any(n.startswith("decoded as Latin-1") for n in table.notes)


def test_quoted_field_with_embedded_newline_is_one_row(tmp_path):
    text = 'CSAT,Comment\n5,"great,\nthanks"\n4,ok\n'
    table = load_responses(write(tmp_path, "nl.csv", text))
    assert table.frame["Comment"].tolist() == ["great,\nthanks", "ok"]
    assert table.frame["_source_row"].tolist() == [2, 3]          # a spreadsheet shows one row per record


def test_decimal_commas_are_read_in_a_semicolon_file(tmp_path):
    text = "CSAT;Duration;Handle time\n4,5;12,5;3,25\n3;8;1\n"
    table = load_responses(write(tmp_path, "de.csv", text), scale=(1, 5))
    assert table.frame["score"].tolist() == [4.5, 3.0]
    assert table.frame["duration_s"].tolist() == [12.5, 8.0]
    assert table.frame["Handle time"].tolist() == [3.25, 1.0]
    assert any("decimal commas" in n for n in table.notes)


def test_comma_inside_quotes_of_a_comma_file_is_not_a_decimal_comma(tmp_path):
    text = 'CSAT,Amount\n5,"1,5"\n4,2\n'
    table = load_responses(write(tmp_path, "c.csv", text))
    assert table.frame["Amount"].tolist() == ["1,5", "2"]         # ambiguous with a thousands separator: kept as text


def test_blank_and_duplicate_headers_get_unique_names(tmp_path):
    text = "CSAT,Agent,,Agent\n5,A1,x,B1\n"
    table = load_responses(write(tmp_path, "h.csv", text))
    assert list(table.frame.columns) == ["_source_row", "score", "agent_id", "Unnamed 3", "Agent (2)"]
    assert any("Unnamed" in n for n in table.notes)
    assert any("'Agent (2)'" in n for n in table.notes)


def test_empty_columns_from_trailing_delimiters_are_ignored(tmp_path):
    table = load_responses(write(tmp_path, "t.csv", "CSAT,Agent,,\n5,A1,,\n4,A2,,\n"))
    assert list(table.frame.columns) == ["_source_row", "score", "agent_id"]


def test_blank_rows_are_skipped_with_a_note_and_row_numbers_kept(tmp_path):
    text = "CSAT,Agent\n5,A1\n,\n\n4,A2\n"
    table = load_responses(write(tmp_path, "b.csv", text))
    assert table.rows_read == 2
    assert table.frame["_source_row"].tolist() == [2, 5]
    assert any(n.startswith("2 blank rows skipped (rows 3, 4)") for n in table.notes)


def test_xlsx_first_sheet_is_read_and_further_sheets_are_noted(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"CSAT": [5, 2], "Agent": ["A1", "A2"]}).to_excel(writer, sheet_name="Responses", index=False)
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
    table = load_responses(path)
    assert table.frame["score"].tolist() == [5.0, 2.0]
    assert table.frame["_source_row"].tolist() == [2, 3]
    assert any("2 sheets" in n and "'Responses'" in n and "'Notes'" in n for n in table.notes)


def test_xlsx_typed_cells_read_as_a_csv_export_would_hold_them(tmp_path):
    path = tmp_path / "typed.xlsx"
    pd.DataFrame({"Response ID": [1001, 1002], "CSAT": [5, 4],
                  "Survey Date": pd.to_datetime(["2024-07-01 13:05", "2024-07-02 08:00"])}).to_excel(
        path, index=False, engine="openpyxl")
    table = load_responses(path)
    assert table.frame["response_id"].tolist() == ["1001", "1002"]
    assert table.frame["submitted_at"].tolist() == [pd.Timestamp("2024-07-01 13:05", tz="UTC"),
                                                    pd.Timestamp("2024-07-02 08:00", tz="UTC")]


def test_parquet_time_zone_aware_timestamps_keep_their_instant(tmp_path):
    path = tmp_path / "t.parquet"
    stamps = pd.to_datetime(["2024-07-01 13:05", "2024-07-02 08:00"]).tz_localize("Europe/Berlin")
    write_parquet(pd.DataFrame({"CSAT": [5, 4], "Survey Date": stamps}), path)
    table = load_responses(path)
    assert table.frame["submitted_at"].tolist() == [pd.Timestamp("2024-07-01 11:05", tz="UTC"),
                                                    pd.Timestamp("2024-07-02 06:00", tz="UTC")]


def test_parquet_is_read(tmp_path):
    path = tmp_path / "r.parquet"
    write_parquet(pd.DataFrame({"Ticket ID": ["T1", "T2"], "CSAT": [5, 4], "handle_time_s": [310.5, 122.0]}), path)
    table = load_responses(path)
    assert table.mapping == {"score": "CSAT", "interaction_id": "Ticket ID"}
    assert table.frame["score"].tolist() == [5.0, 4.0]
    assert table.frame["handle_time_s"].tolist() == [310.5, 122.0]
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------
# raw survey-tool exports
# ------------------------------------------------------------------------------------------
QUALTRICS = [
    ["StartDate", "EndDate", "Progress", "Duration (in seconds)", "Finished", "RecordedDate", "ResponseId",
     "Q1", "Q2", "TicketID", "AgentName"],
    ["Start Date", "End Date", "Progress", "Duration (in seconds)", "Finished", "Recorded Date", "Response ID",
     "Overall, how satisfied were you with the support you received?", "Anything else?", "TicketID",
     "AgentName"],
    ['{"ImportId":"startDate","timeZone":"UTC"}', '{"ImportId":"endDate","timeZone":"UTC"}',
     '{"ImportId":"progress"}', '{"ImportId":"duration"}', '{"ImportId":"finished"}',
     '{"ImportId":"recordedDate","timeZone":"UTC"}', '{"ImportId":"_recordId"}', '{"ImportId":"QID1"}',
     '{"ImportId":"QID2_TEXT"}', '{"ImportId":"TicketID"}', '{"ImportId":"AgentName"}'],
    ["2024-07-01 13:00:00", "2024-07-01 13:02:10", "100", "130", "True", "2024-07-01 13:02:11",
     "R_1a", "5", "", "T1", "A1"],
    ["2024-07-01 14:00:00", "2024-07-01 14:00:20", "100", "20", "True", "2024-07-01 14:00:21",
     "R_1b", "2", "slow", "T2", "A2"],
]


def qualtrics_csv(tmp_path, rows=QUALTRICS):
    out = io.StringIO()
    import csv
    csv.writer(out).writerows(rows)
    return write(tmp_path, "qualtrics.csv", out.getvalue())


def test_qualtrics_export_has_three_header_rows_and_data_from_row_4(tmp_path):
    table = load_responses(qualtrics_csv(tmp_path))
    assert table.export_format == "qualtrics"
    assert table.rows_read == 2
    assert table.frame["_source_row"].tolist() == [4, 5]


def test_qualtrics_metadata_columns_map_to_canonical_fields(tmp_path):
    table = load_responses(qualtrics_csv(tmp_path))
    assert table.mapping == {"score": "Q1", "response_id": "ResponseId", "interaction_id": "TicketID",
                             "agent_id": "AgentName", "submitted_at": "RecordedDate",
                             "duration_s": "Duration (in seconds)"}
    assert table.frame["duration_s"].tolist() == [130.0, 20.0]


def test_read_table_keeps_the_question_text_of_raw_exports(tmp_path):
    frame, fmt, _, notes = read_table(qualtrics_csv(tmp_path))
    assert fmt == "qualtrics" and list(frame.index) == [4, 5]
    assert frame.attrs["questions"]["Q1"] == "Overall, how satisfied were you with the support you received?"


def test_qualtrics_score_column_is_found_from_its_question_text(tmp_path):
    table = load_responses(qualtrics_csv(tmp_path))
    assert table.frame["score"].tolist() == [5.0, 2.0]
    assert any("chosen from its question text" in n and "satisfied" in n for n in table.notes)


def test_qualtrics_choice_text_answers_are_mapped_as_labels(tmp_path):
    rows = [list(r) for r in QUALTRICS]
    rows[3][7], rows[4][7] = "Very satisfied", "Dissatisfied"
    table = load_responses(qualtrics_csv(tmp_path, rows))
    assert table.frame["score"].tolist() == [5.0, 2.0]
    assert table.scale == (1, 5)


SURVEYMONKEY = [
    ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address",
     "How satisfied were you with your support experience?", "Which channel did you use?", "", "Agent"],
    ["", "", "", "", "", "Response", "Phone", "Chat", "Open-Ended Response"],
    ["114001", "4201", "07/01/2024 01:00:00 PM", "07/13/2024 01:05:22 PM", "1.2.3.4", "Very satisfied", "Phone",
     "", "A1"],
    ["114002", "4201", "07/02/2024 09:00:00 AM", "07/02/2024 09:03:00 AM", "1.2.3.5",
     "Neither satisfied nor dissatisfied", "", "Chat", "A2"],
]


def surveymonkey_csv(tmp_path):
    out = io.StringIO()
    import csv
    csv.writer(out).writerows(SURVEYMONKEY)
    return write(tmp_path, "sm.csv", out.getvalue())


def test_surveymonkey_export_has_two_header_rows_and_data_from_row_3(tmp_path):
    table = load_responses(surveymonkey_csv(tmp_path))
    assert table.export_format == "surveymonkey"
    assert table.frame["_source_row"].tolist() == [3, 4]


def test_surveymonkey_option_columns_are_named_question_dash_option(tmp_path):
    table = load_responses(surveymonkey_csv(tmp_path))
    assert "Which channel did you use? - Phone" in table.frame.columns
    assert "Which channel did you use? - Chat" in table.frame.columns


def test_surveymonkey_score_and_metadata_are_mapped(tmp_path):
    table = load_responses(surveymonkey_csv(tmp_path))
    assert table.mapping["score"] == "How satisfied were you with your support experience?"
    assert table.mapping["response_id"] == "Respondent ID"
    assert table.mapping["submitted_at"] == "End Date"
    assert table.frame["score"].tolist() == [5.0, 3.0]
    # month-first, because 13 appears in the second position; 01:05:22 PM = 13:05:22
    assert table.frame["submitted_at"].iloc[0] == pd.Timestamp("2024-07-13 13:05:22", tz="UTC")


ZENDESK = [["Ticket ID", "Satisfaction", "Assignee", "Requester ID", "Ticket created"],
           ["101", "Good", "Ann", "C1", "2024-07-01"],
           ["102", "Bad", "Bob", "C2", "2024-07-01"],
           ["103", "Offered", "Ann", "C3", "2024-07-02"],
           ["104", "Unoffered", "Bob", "C4", "2024-07-02"],
           ["105", "Good", "Bob", "C5", "2024-07-03"]]


def test_zendesk_export_is_recognized(tmp_path):
    table = load_responses(write(tmp_path, "zd.csv", csv_text(ZENDESK)))
    assert table.export_format == "zendesk"
    assert table.mapping == {"score": "Satisfaction", "interaction_id": "Ticket ID", "customer_id": "Requester ID",
                             "agent_id": "Assignee", "interaction_at": "Ticket created"}


def test_zendesk_good_is_1_bad_is_0_on_a_0_1_scale(tmp_path):
    table = load_responses(write(tmp_path, "zd.csv", csv_text(ZENDESK)))
    assert table.scale == (0, 1)
    assert table.frame["score"].tolist() == [1.0, 0.0, 1.0]


def test_zendesk_offered_and_unoffered_rows_are_dropped_as_not_answered(tmp_path):
    table = load_responses(write(tmp_path, "zd.csv", csv_text(ZENDESK)))
    assert note(table.dropped, "survey offered, not answered") == RowNote("survey offered, not answered", 2, (4, 5))
    assert ledger_balances(table)


# ------------------------------------------------------------------------------------------
# column detection and mapping
# ------------------------------------------------------------------------------------------
RESPONSE_VARIANTS = [
    ("score", h) for h in ("Score", "CSAT", "CSAT Score", "Rating", "Satisfaction", "Overall Satisfaction",
                           "NPS", "Likelihood to Recommend", "LTR", "csat_score", "CSAT-SCORE")
] + [
    ("response_id", h) for h in ("Response ID", "ResponseId", "Survey ID", "Respondent ID")
] + [
    ("interaction_id", h) for h in ("Interaction ID", "Ticket ID", "Ticket", "Call ID", "Contact ID", "Case ID",
                                    "Conversation ID")
] + [
    ("customer_id", h) for h in ("Customer ID", "Customer", "Client ID", "Account ID", "Requester ID", "Caller ID")
] + [
    ("agent_id", h) for h in ("Agent", "Agent ID", "Agent Name", "Assignee", "Rep", "Advisor", "Employee ID")
] + [
    ("submitted_at", h) for h in ("Submitted At", "Survey Date", "Response Date", "Date Submitted",
                                  "Completed At", "RecordedDate", "EndDate", "End Date")
] + [
    ("interaction_at", h) for h in ("Interaction At", "Interaction Date", "Call Date", "Contact Date",
                                    "Ticket Created", "Created At")
] + [
    ("duration_s", h) for h in ("Duration", "Duration (in seconds)", "Duration (s)", "Time Taken")
]


@pytest.mark.parametrize("canonical, header", RESPONSE_VARIANTS)
def test_response_header_variant_is_detected(canonical, header):
    assert detect_mapping(["Channel", header], "responses") == {canonical: header}


@pytest.mark.parametrize("canonical, header", [
    ("invited", "Invited"), ("invited", "Survey Sent"), ("invited", "Survey Offered"),
    ("responded", "Responded"), ("responded", "Survey Completed"),
    ("interaction_id", "Ticket ID"), ("agent_id", "Agent Name")])
def test_population_header_variant_is_detected(canonical, header):
    assert detect_mapping(["Region", header], "population") == {canonical: header}


@pytest.mark.parametrize("kind, fields", [("responses", RESPONSE_FIELDS), ("population", POPULATION_FIELDS)])
def test_canonical_names_always_match_themselves(kind, fields):
    assert detect_mapping(list(fields), kind) == {f: f for f in fields}


def test_detection_ignores_fields_of_the_other_table():
    assert detect_mapping(["CSAT", "Invited"], "population") == {"invited": "Invited"}


def test_canonical_header_wins_over_a_variant_of_the_same_field():
    assert detect_mapping(["Rating", "score"], "responses") == {"score": "score"}


def test_explicit_mapping_wins_over_detection(tmp_path):
    text = "CSAT,Agent Q2 rating,Agent\n5,2,A1\n4,1,A2\n"
    table = load_responses(write(tmp_path, "m.csv", text), mapping={"score": "Agent Q2 rating"})
    assert table.mapping["score"] == "Agent Q2 rating"
    assert table.frame["score"].tolist() == [2.0, 1.0]
    assert table.frame["CSAT"].tolist() == [5.0, 4.0]             # the unused variant stays a plain column


def test_explicit_mapping_ignores_case_spaces_and_punctuation(tmp_path):
    table = load_responses(write(tmp_path, "m.csv", "CSAT Score,Stars\n5,2\n"), mapping={"score": "stars"})
    assert table.mapping["score"] == "Stars"


def test_explicit_empty_mapping_turns_detection_off_for_that_field(tmp_path):
    table = load_responses(write(tmp_path, "m.csv", "CSAT,Agent\n5,A1\n"), mapping={"agent_id": ""})
    assert "agent_id" not in table.mapping and table.frame["Agent"].tolist() == ["A1"]


def test_unmapped_columns_keep_their_headers_and_numeric_ones_become_float(tmp_path):
    text = "CSAT,Region,Handle time (s),Resolved\n5,North,300,yes\n4,South,12.5,no\n"
    table = load_responses(write(tmp_path, "o.csv", text))
    frame = table.frame
    assert frame["Handle time (s)"].dtype == np.float64 and frame["Handle time (s)"].tolist() == [300.0, 12.5]
    assert frame["Region"].tolist() == ["North", "South"] and frame["Resolved"].tolist() == ["yes", "no"]


def test_an_unmapped_column_named_like_a_canonical_field_is_renamed(tmp_path):
    text = "score,CSAT\n9,5\n8,4\n"
    table = load_responses(write(tmp_path, "c.csv", text), mapping={"score": "CSAT"})
    assert table.frame["score"].tolist() == [5.0, 4.0]
    assert table.frame["score (unmapped)"].tolist() == [9.0, 8.0]


def test_mapping_to_an_absent_column_raises_listing_the_headers(tmp_path):
    path = write(tmp_path, "m.csv", "CSAT,Agent\n5,A1\n")
    with pytest.raises(InputError) as err:
        load_responses(path, mapping={"agent_id": "Agent Name"})
    assert err.value.file == "m.csv" and err.value.column == "Agent Name"
    assert "'CSAT'" in str(err.value) and "'Agent'" in str(err.value)


def test_mapping_with_an_unknown_field_raises(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "m.csv", "CSAT\n5\n"), mapping={"csat": "CSAT"})
    assert err.value.column == "csat" and "score" in err.value.expected


def test_load_mapping_reads_a_flat_json_object_as_the_responses_mapping(tmp_path):
    path = write(tmp_path, "map.json", json.dumps({"score": "CSAT Score", "agent_id": "Rep"}))
    assert load_mapping(path) == {"responses": {"score": "CSAT Score", "agent_id": "Rep"}, "population": {}}


def test_load_mapping_reads_toml_sections(tmp_path):
    path = write(tmp_path, "map.toml", '[responses]\nscore = "Q1"\n\n[population]\ninteraction_id = "Call"\n')
    assert load_mapping(path) == {"responses": {"score": "Q1"}, "population": {"interaction_id": "Call"}}


def test_load_mapping_with_invalid_json_names_the_line(tmp_path):
    with pytest.raises(InputError) as err:
        load_mapping(write(tmp_path, "map.json", '{\n"score": "CSAT",\n}'))
    assert err.value.file == "map.json" and err.value.row == 3


def test_load_mapping_rejects_unknown_population_fields(tmp_path):
    with pytest.raises(InputError) as err:
        load_mapping(write(tmp_path, "map.json", json.dumps({"population": {"score": "CSAT"}})))
    assert err.value.column == "score"


# ------------------------------------------------------------------------------------------
# the row ledger
# ------------------------------------------------------------------------------------------
LEDGER = [["CSAT", "Agent"], [5, "A1"], ["", "A2"], ["n/a", "A3"], [4, "A4"], [99, "A5"], [1, "A6"],
          [3, "A7"], [2, "A8"], [5, "A9"]]


def test_rows_dropped_for_missing_non_numeric_and_out_of_scale_scores(tmp_path):
    table = load_responses(write(tmp_path, "l.csv", csv_text(LEDGER)), scale=(1, 5))
    assert table.dropped == (RowNote("score missing", 1, (3,)),
                             RowNote("score not a number/label", 1, (4,)),
                             RowNote("score outside the 1-5 scale", 1, (6,)))


def test_row_ledger_balances(tmp_path):
    table = load_responses(write(tmp_path, "l.csv", csv_text(LEDGER)), scale=(1, 5))
    assert table.rows_read == 9 and len(table.frame) == 6
    assert ledger_balances(table)


def test_kept_rows_carry_their_source_row_numbers(tmp_path):
    table = load_responses(write(tmp_path, "l.csv", csv_text(LEDGER)), scale=(1, 5))
    assert table.frame["_source_row"].tolist() == [2, 5, 7, 8, 9, 10]
    assert table.frame["agent_id"].tolist() == ["A1", "A4", "A6", "A7", "A8", "A9"]


def test_duplicated_responses_are_kept(tmp_path):
    text = "Response ID,CSAT\nR1,5\nR1,5\nR2,4\n"
    table = load_responses(write(tmp_path, "d.csv", text))
    assert table.frame["response_id"].tolist() == ["R1", "R1", "R2"] and table.dropped == ()


def test_row_notes_list_the_first_20_rows_only(tmp_path):
    rows = [["CSAT", "Agent"]] + [["", f"A{i}"] for i in range(30)] + [[5, "A30"]]
    table = load_responses(write(tmp_path, "many.csv", csv_text(rows)))
    missing = note(table.dropped, "score missing")
    assert missing.count == 30 and missing.rows == tuple(range(2, 22))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["1", "2", "3", "4", "5", "", "x", "0", "6", "4.5"]), min_size=1, max_size=40))
def test_ledger_accounts_for_every_row_exactly_once(cells):
    if not any(c in {"1", "2", "3", "4", "5"} for c in cells):
        cells = cells + ["3"]
    frame = pd.DataFrame({"score": cells, "agent": [f"a{i}" for i in range(len(cells))]})
    table = load_responses(frame, scale=(1, 5))
    dropped_rows = [r for n in table.dropped for r in n.rows]
    assert ledger_balances(table)
    assert sorted(dropped_rows + table.frame["_source_row"].tolist()) == list(range(2, len(cells) + 2))


# ------------------------------------------------------------------------------------------
# score labels and scale inference
# ------------------------------------------------------------------------------------------
def test_satisfaction_labels_map_to_1_to_5(tmp_path):
    labels = ["Very satisfied", "Satisfied", "Neither satisfied nor dissatisfied", "Neutral", "Dissatisfied",
              "Very dissatisfied"]
    table = load_responses(pd.DataFrame({"CSAT": labels}))
    assert table.frame["score"].tolist() == [5.0, 4.0, 3.0, 3.0, 2.0, 1.0]
    assert table.scale == (1, 5)
    assert any("'Very satisfied'→5" in n for n in table.notes)


def test_agreement_and_likelihood_labels_map_to_1_to_5():
    labels = ["Strongly agree", "Somewhat agree", "Neither agree nor disagree", "Somewhat disagree",
              "Strongly disagree", "Extremely likely", "Somewhat unlikely"]
    table = load_responses(pd.DataFrame({"Rating": labels}))
    assert table.frame["score"].tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 5.0, 2.0]


def test_zero_ten_endpoint_labels_among_numbers_map_to_0_and_10():
    table = load_responses(pd.DataFrame({"NPS": ["Extremely likely", "7", "Not at all likely", "9"]}))
    assert table.frame["score"].tolist() == [10.0, 7.0, 0.0, 9.0]
    assert table.scale == (0, 10)


def test_labels_with_a_number_use_the_number():
    table = load_responses(pd.DataFrame({"Score": ["10 - Extremely likely", "0 - Not at all likely", "8"]}))
    assert table.frame["score"].tolist() == [10.0, 0.0, 8.0]
    assert table.scale == (0, 10)
    table = load_responses(pd.DataFrame({"Score": ["5 (Very satisfied)", "4", "1 (Very dissatisfied)"]}))
    assert table.frame["score"].tolist() == [5.0, 4.0, 1.0]


def test_text_that_is_not_a_label_is_dropped_with_its_reason():
    table = load_responses(pd.DataFrame({"CSAT": ["Very satisfied", "Don't know"]}))
    assert note(table.dropped, "score not a number/label").rows == (3,)


def test_infer_scale_1_5_tolerates_one_percent_of_codes():
    # 100 answers on 1-5 and one 99 "don't know": 100/101 = 99.0 % on 1-5
    assert infer_scale(pd.Series([1, 2, 3, 4, 5] * 20 + [99])) == (1, 5)


def test_codes_off_the_inferred_scale_are_dropped(tmp_path):
    frame = pd.DataFrame({"CSAT": [1, 2, 3, 4, 5] * 20 + [99]})
    table = load_responses(frame)
    assert table.scale == (1, 5)
    assert note(table.dropped, "score outside the 1-5 scale") == RowNote("score outside the 1-5 scale", 1, (102,))


def test_infer_scale_picks_the_narrowest_fitting_scale():
    assert infer_scale(pd.Series([1, 3, 5])) == (1, 5)
    assert infer_scale(pd.Series([1, 6, 7])) == (1, 7)
    assert infer_scale(pd.Series([1, 8, 10])) == (1, 10)


def test_infer_scale_with_a_zero_is_0_to_10():
    assert infer_scale(pd.Series([0, 3, 5])) == (0, 10)


def test_infer_scale_with_only_0_and_1_is_0_to_1():
    assert infer_scale(pd.Series([0, 1, 1, 0])) == (0, 1)


def test_header_naming_the_recommend_question_means_0_to_10():
    values = pd.Series([3, 8, 9, 10])
    assert infer_scale(values) == (1, 10)
    assert infer_scale(values, header="Likelihood to Recommend") == (0, 10)
    assert infer_scale(values, header="NPS") == (0, 10)


def test_labels_beat_the_header_hint():
    labels = pd.Series(["Extremely likely", "Somewhat likely", "Neither likely nor unlikely"])
    assert infer_scale(labels, header="How likely are you to return?") == (1, 5)


def test_scale_without_a_fitting_candidate_raises():
    with pytest.raises(InputError) as err:
        infer_scale(pd.Series([1, 40, 100]), header="Points")
    assert err.value.column == "Points" and "declared scale" in err.value.expected


def test_declared_scale_beats_inference_and_keeps_averaged_scores():
    table = load_responses(pd.DataFrame({"CSAT": [4.333333333333333, 5, 1, 2.5]}), scale=(1, 5))
    assert table.scale == (1, 5)
    assert table.frame["score"].tolist() == [4.333333333333333, 5.0, 1.0, 2.5]
    assert "scale 1-5 declared" in table.notes


def test_scores_between_points_of_an_inferred_scale_are_dropped():
    table = load_responses(pd.DataFrame({"CSAT": [4.5, 5, 1, 2]}))
    assert table.scale == (1, 5)
    assert note(table.dropped, "score not a whole point of the inferred 1-5 scale").rows == (2,)


def test_invalid_declared_scale_raises():
    with pytest.raises(InputError) as err:
        load_responses(pd.DataFrame({"CSAT": [5]}), scale=(5, 1), name="r.csv")
    assert (err.value.file, err.value.column) == ("r.csv", "CSAT")


def test_the_scale_decision_is_noted():
    table = load_responses(pd.DataFrame({"CSAT": [0, 7, 10]}))
    assert any(n.startswith("scale 0-10 inferred from the data") for n in table.notes)


# ------------------------------------------------------------------------------------------
# dates, durations, ids, items
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2024-07-01 13:05", "2024-07-01T13:05:00Z"),
    ("2024-07-01T13:05:00Z", "2024-07-01T13:05:00Z"),
    ("2024-07-01T15:05:00+02:00", "2024-07-01T13:05:00Z"),
    ("2024-07-01T08:05:00.250-0500", "2024-07-01T13:05:00.250Z"),
    ("2024-07-01", "2024-07-01T00:00:00Z"),
    ("2024/07/01 13:05:30", "2024-07-01T13:05:30Z"),
    ("07/01/2024 1:05 PM", "2024-07-01T13:05:00Z"),
    ("07/01/2024 12:05 AM", "2024-07-01T00:05:00Z"),
    ("01.07.2024 13:05", "2024-07-01T13:05:00Z"),
    ("01.07.2024 15:05 +02:00", "2024-07-01T13:05:00Z"),
    ("Jul 1, 2024 1:05 PM", "2024-07-01T13:05:00Z"),
])
def test_date_formats_are_read_as_utc_instants(text, expected):
    table = load_responses(pd.DataFrame({"CSAT": [5], "Survey Date": [text]}))
    assert table.frame["submitted_at"].iloc[0] == pd.Timestamp(expected)
    assert str(table.frame["submitted_at"].dtype).startswith("datetime64") and \
        str(table.frame["submitted_at"].dt.tz) == "UTC"


def test_day_first_is_chosen_when_a_first_number_exceeds_12():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4], "Survey Date": ["13/07/2024", "01/07/2024"]}))
    assert table.frame["submitted_at"].tolist() == [pd.Timestamp("2024-07-13", tz="UTC"),
                                                    pd.Timestamp("2024-07-01", tz="UTC")]
    assert any(n.startswith("submitted_at: dates read day-first") for n in table.notes)


def test_month_first_is_chosen_when_a_second_number_exceeds_12():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4], "Survey Date": ["07/13/2024", "07/01/2024"]}))
    assert table.frame["submitted_at"].tolist() == [pd.Timestamp("2024-07-13", tz="UTC"),
                                                    pd.Timestamp("2024-07-01", tz="UTC")]
    assert any(n.startswith("submitted_at: dates read month-first") for n in table.notes)


def test_naive_times_are_taken_as_utc_and_noted():
    table = load_responses(pd.DataFrame({"CSAT": [5], "Call Date": ["2024-07-01 13:05"]}))
    assert "interaction_at: times without a time-zone offset taken as UTC" in table.notes


def test_unparseable_dates_become_nat_and_are_flagged_not_dropped():
    frame = pd.DataFrame({"CSAT": [5, 4, 3], "Survey Date": ["2024-07-01", "last tuesday", "2024-02-30"]})
    table = load_responses(frame)
    assert len(table.frame) == 3
    assert table.frame["submitted_at"].isna().tolist() == [False, True, True]
    assert table.flagged == (RowNote("submitted_at unparseable", 2, (3, 4)),)


def test_empty_dates_are_missing_but_not_flagged():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4], "Survey Date": ["2024-07-01", ""]}))
    assert table.frame["submitted_at"].isna().tolist() == [False, True] and table.flagged == ()


def test_negative_and_non_numeric_durations_become_nan_and_are_flagged():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4, 3, 2], "Duration": ["30", "-4", "fast", ""]}))
    assert table.frame["duration_s"].tolist()[:1] == [30.0] and table.frame["duration_s"].isna().sum() == 3
    assert table.flagged == (RowNote("duration_s negative", 1, (3,)), RowNote("duration_s not a number", 1, (4,)))


def test_clock_durations_are_read_as_seconds():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4], "Time Taken": ["0:02:05", "1:30"]}))
    assert table.frame["duration_s"].tolist() == [125.0, 90.0]


def test_ids_are_stripped_strings_with_missing_as_na():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4, 3], "Customer ID": [" 007 ", "", "C9"]}))
    ids = table.frame["customer_id"]
    assert isinstance(ids.dtype, pd.StringDtype)
    assert ids.iloc[0] == "007" and ids.iloc[1] is pd.NA and ids.iloc[2] == "C9"


def test_item_columns_accept_numbers_or_labels():
    frame = pd.DataFrame({"CSAT": [5, 4], "q_speed": ["Very satisfied", "Dissatisfied"], "q_tone": ["3", "4"]})
    table = load_responses(frame)
    assert table.frame["q_speed"].tolist() == [5.0, 2.0]
    assert table.frame["q_tone"].tolist() == [3.0, 4.0]


@pytest.mark.parametrize("cells, expected", [
    (["", "North", "1", "2"], ["North", "1", "2"]),      # a label first: text, numbers kept as written
    (["1", "2", "North"], ["1", "2", "North"]),          # a label after numbers: text all the same
    (["", "1", "2.5e1", " 3 "], [1.0, 25.0, 3.0]),        # every cell a number: numbers
    (["1e400", "2"], ["1e400", "2"]),                    # a number too large to use is stray text
])
def test_a_column_is_numbers_only_when_every_filled_cell_is_one(cells, expected):
    frame = pd.DataFrame({"CSAT": [5] * len(cells), "note": cells})
    column = load_responses(frame).frame["note"]
    assert column.dropna().tolist() == expected


def test_stray_text_in_an_item_column_is_flagged_not_kept_as_text():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4, 3], "q_speed": ["5", "N/A", "Satisfied"]}))
    assert table.frame["q_speed"].iloc[[0, 2]].tolist() == [5.0, 4.0] and np.isnan(table.frame["q_speed"].iloc[1])
    assert table.flagged == (RowNote("q_speed not a number/label", 1, (3,)),)


def test_whole_number_item_answers_are_held_as_float32_with_the_same_values():
    # float32 holds every whole number up to 2^24 exactly: the values read back as float64 are the file's
    frame = pd.DataFrame({"CSAT": [5, 4, 3], "q_speed": ["5", "", "-0"], "q_big": ["16777216", "1", "2"],
                          "q_half": ["4.5", "3", "2"], "q_huge": ["16777217", "1", "2"]})
    table = load_responses(frame)
    assert table.frame["q_speed"].dtype == np.float32 and table.frame["q_big"].dtype == np.float32
    assert table.frame["q_speed"].to_numpy(float).tolist()[::2] == [5.0, 0.0]
    assert table.frame["q_big"].to_numpy(float).tolist() == [16777216.0, 1.0, 2.0]
    # a half point, or a whole number float32 cannot hold (2^24 + 1), keeps float64
    assert table.frame["q_half"].dtype == np.float64 and table.frame["q_huge"].dtype == np.float64
    assert table.frame["q_huge"].iloc[0] == 16777217.0


def test_response_text_with_few_labels_is_held_as_a_categorical_of_the_same_values():
    # reference: the values as loaded without the conversion (a categorical of the labels,
    # missing values kept missing); 61 labels is more than a segment has, and stays text
    labels = [f"site {i:02d}" for i in range(MAX_LABEL_LEVELS)]
    frame = pd.DataFrame({"CSAT": [5] * 122, "Channel": (["chat", "  phone ", "", "chat"] * 31)[:122],
                          "Site": (labels * 3)[:122], "Note": [f"n{i % 61}" for i in range(122)]})
    table = load_responses(frame)
    channel = table.frame["Channel"]
    assert isinstance(channel.dtype, pd.CategoricalDtype) and list(channel.cat.categories) == ["chat", "phone"]
    assert channel.astype(object).where(channel.notna(), None).tolist() == (["chat", "phone", None, "chat"] * 31)[:122]
    assert isinstance(table.frame["Site"].dtype, pd.CategoricalDtype)
    assert table.frame["Site"].astype(str).tolist() == (labels * 3)[:122]
    assert isinstance(table.frame["Note"].dtype, pd.StringDtype)


def test_population_text_stays_text(tmp_path):
    # an interactions table is aggregated in the engine, which takes text as it is
    table = load_population(write(tmp_path, "pop.csv", "Ticket ID,Channel\nT1,chat\nT2,phone\nT3,chat\n"))
    assert isinstance(table.frame["Channel"].dtype, pd.StringDtype)


def test_free_text_item_column_stays_text():
    table = load_responses(pd.DataFrame({"CSAT": [5, 4], "q_comment": ["quick and kind", "ok"]}))
    assert table.frame["q_comment"].tolist() == ["quick and kind", "ok"] and table.flagged == ()


# ------------------------------------------------------------------------------------------
# population
# ------------------------------------------------------------------------------------------
def test_population_flags_become_int8_zero_one(tmp_path):
    text = ("Ticket ID,Survey Sent,Responded,Channel\nT1,1,yes,chat\nT2,0,no,phone\nT3,TRUE,y,chat\n"
            "T4,false,N,email\n")
    table = load_population(write(tmp_path, "pop.csv", text))
    assert table.frame["invited"].dtype == np.int8 and table.frame["responded"].dtype == np.int8
    assert table.frame["invited"].tolist() == [1, 0, 1, 0]
    assert table.frame["responded"].tolist() == [1, 0, 1, 0]
    assert table.scale is None


def test_population_flag_that_is_not_yes_no_raises_naming_row_and_column(tmp_path):
    text = "Ticket ID,Invited\nT1,1\nT2,maybe\n"
    with pytest.raises(InputError) as err:
        load_population(write(tmp_path, "pop.csv", text))
    assert (err.value.file, err.value.row, err.value.column) == ("pop.csv", 3, "Invited")
    assert "pop.csv, row 3, column 'Invited'" in str(err.value)


def test_population_rows_without_id_or_with_a_repeated_id_are_dropped(tmp_path):
    text = "Call ID,Region\nC1,N\n,S\nC2,S\nC1,E\n"
    table = load_population(write(tmp_path, "pop.csv", text))
    assert table.dropped == (RowNote("interaction_id missing", 1, (3,)),
                             RowNote("duplicate interaction_id (first kept)", 1, (5,)))
    assert table.frame["interaction_id"].tolist() == ["C1", "C2"] and table.frame["Region"].tolist() == ["N", "S"]
    assert ledger_balances(table)


def test_population_without_an_interaction_id_raises_listing_headers(tmp_path):
    with pytest.raises(InputError) as err:
        load_population(write(tmp_path, "pop.csv", "Region,Invited\nN,1\n"))
    assert err.value.file == "pop.csv" and "'Region'" in str(err.value) and "'Invited'" in str(err.value)


# ------------------------------------------------------------------------------------------
# unusable input
# ------------------------------------------------------------------------------------------
def test_empty_file_raises(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "empty.csv", ""))
    assert err.value.file == "empty.csv" and "empty" in err.value.message


def test_header_only_file_raises_naming_the_row(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "head.csv", "CSAT,Agent\n"))
    assert err.value.file == "head.csv" and err.value.row == 2 and "no data rows" in err.value.message


def test_binary_file_raises(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as err:
        load_responses(path)
    assert err.value.file == "image.csv" and "binary" in err.value.message


def test_missing_file_raises(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(tmp_path / "nowhere.csv")
    assert err.value.file == "nowhere.csv"


def test_no_score_column_raises_listing_headers_and_suggesting_a_mapping(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "x.csv", "Agent,Stars\nA1,5\nA2,4\n"))
    message = str(err.value)
    assert err.value.file == "x.csv" and "'Agent'" in message and "'Stars'" in message
    assert '{"score": "Stars"}' in err.value.expected                # the column that holds numbers


def test_no_valid_score_raises_naming_the_column(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "x.csv", "CSAT,Agent\n,A1\nhigh,A2\n"))
    assert (err.value.file, err.value.column) == ("x.csv", "CSAT")


def test_damaged_xlsx_raises(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputError) as err:
        load_responses(path)
    assert err.value.file == "broken.xlsx" and "XLSX" in err.value.message


def test_csv_text_named_xlsx_raises(tmp_path):
    with pytest.raises(InputError) as err:
        load_responses(write(tmp_path, "fake.xlsx", "CSAT\n5\n"))
    assert err.value.file == "fake.xlsx" and "XLSX" in err.value.message


def test_damaged_parquet_raises(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x01" * 64)
    with pytest.raises(InputError) as err:
        load_responses(path)
    assert err.value.file == "broken.parquet" and "Parquet" in err.value.message


def test_legacy_xls_raises(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(InputError) as err:
        load_responses(path)
    assert err.value.file == "old.xls" and ".xlsx" in err.value.expected


# ---------------------------------------------------------------- columnar fast paths (issue 5)

def _careful_raw(data: bytes, name: str):
    """The row-by-row reading that the columnar path must reproduce."""
    from audit.loading import _build_raw, _csv_grid, _decode
    text, notes = _decode(data, name)
    rows, numbers, delim = _csv_grid(text, name)
    if delim != ",":
        notes.append(f"delimiter {'tab' if delim == chr(9) else repr(delim)} detected")
    return _build_raw(rows, numbers, name, "sha", notes, delim != ",")


@pytest.mark.parametrize("text", [
    "Ticket ID,CSAT Score,Agent\n1,5,A\n2,4,B\n",
    "\ufeffid;score;comment\n1;4,5;\"line one\nline two\"\n2;3;\"say \"\"hi\"\"\"\n",
    "a\tb\tb\n1\t2\t3\n4\t5\t6\n",
    "id,,score\n1,x,5\n2,y,4\n",
    "  id , score \n 7 , 5 \n",
])
def test_columnar_reading_equals_the_careful_reading(text):
    from audit.loading import _fast_delimited
    data = text.encode("utf-8")
    fast = _fast_delimited(data, "f.csv", "sha")
    careful = _careful_raw(data, "f.csv")
    assert fast is not None
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    assert (fast.notes, fast.export_format, fast.decimal_comma) == (careful.notes, careful.export_format,
                                                                     careful.decimal_comma)


@pytest.mark.parametrize("text", [
    "id,score\n1,5\n\n2,4\n",                 # blank line: row numbers would shift
    "id,score\n1,5,extra\n2,4\n",             # ragged row
    "id,score,\n1,5,\n2,4,\n",                # trailing delimiter: empty column without a header
    "id,score\n1,5\n,\n",                     # a row of empty cells
])
def test_files_the_columnar_reader_cannot_reproduce_go_the_careful_way(text):
    from audit.loading import _fast_delimited
    assert _fast_delimited(text.encode("utf-8"), "f.csv", "sha") is None


def test_cp1252_files_go_the_careful_way():
    from audit.loading import _fast_delimited
    assert _fast_delimited("id,agent\n1,Ren\xe9e\n".encode("cp1252"), "f.csv", "sha") is None


@pytest.mark.parametrize("values", [
    ["2026-07-01T10:00:00Z", "2026-07-01 10:00:00+02:00", "2026-07-01T10:00Z", "", "2026-07-01T23:59:59.5-0530"],
    ["2026-02-30T10:00:00Z", "2026-07-01T24:00:00Z", "2026-13-01T10:00:00Z", "2026-07-01T10:61:00Z"],
    ["2026-07-01T10:00:00", "2259-12-31T23:59:59Z", "1700-01-01T00:00:00+01:00"],
    ["2024-02-29T12:00:00Z", "2259-12-31T23:59:59.999999+00:00", "1700-01-01T00:00:00+01:00", "2026-07-01 10:00+0530"],
])
def test_strict_iso_timestamps_parse_as_the_general_parser_does(values):
    from audit.loading import _parse_times, _parse_times_general, _text
    series = pd.Series(values, dtype="str")
    fast, bad_fast, notes_fast = _parse_times(series, "at")
    slow, bad_slow, notes_slow = _parse_times_general(_text(series).astype("str"), "at")
    pd.testing.assert_series_equal(fast, slow)
    assert bad_fast.tolist() == bad_slow.tolist() and notes_fast == notes_slow


@pytest.mark.parametrize("values, by_arrow", [
    (["2024-02-29T12:00:00Z", "2259-12-31T23:59:59.999999+00:00", "1700-01-01T00:00:00+01:00", None], True),
    (["2026-02-30T10:00:00Z", "2026-07-01T10:00:00Z"], False),      # an impossible date
    (["2026-07-01T24:00:00Z"], False),
    (["2026-07-01T10:00:00", "2026-07-01T10:00:00Z"], False),       # a time without an offset
])
def test_arrow_reads_iso_times_with_offsets_and_refuses_the_rest(values, by_arrow):
    from audit.loading import _iso_times_by_arrow
    series = pd.Series(values, dtype="str")
    read = _iso_times_by_arrow(series)
    assert (read is not None) == by_arrow
    if by_arrow:
        # reference: pandas' own ISO 8601 parser
        expected = pd.to_datetime(series, format="ISO8601", utc=True).astype("datetime64[ns, UTC]")
        pd.testing.assert_series_equal(read, expected)


def test_numbers_are_read_by_arrow_as_by_python():
    from audit.loading import _numbers
    text = pd.Series(["1", "+2.5", "-.5", "1e3", "4,5", "x", "", "0.1", "5."], dtype="str")
    values, used_comma = _numbers(text, decimal_comma=True)
    # reference: Python's float() on the same strings (comma as decimal point)
    expected = [1.0, 2.5, -0.5, 1000.0, 4.5, np.nan, np.nan, 0.1, 5.0]
    np.testing.assert_array_equal(values.to_numpy(), expected)
    assert used_comma


@pytest.mark.parametrize("unit,tz", [("us", "UTC"), ("ns", None), ("ms", "Europe/Paris")])
def test_parquet_columns_read_as_the_row_grid_reads_them(unit, tz):
    # reference: the row-by-row grid of `_cell_text` values (the path every format shares)
    import pyarrow.parquet as pq
    from audit.loading import _build_raw, _columns_grid, _read
    at = pd.to_datetime(["2026-07-01 10:00:00.123456789", "2026-03-29 01:30:00.000000000", None], format="ISO8601")
    at = at.tz_localize(tz) if tz else at
    frame = pd.DataFrame({"Ticket ID": [1, 2, None], "score": [5.0, 4.5, np.nan], "agent": ["A", None, "B"],
                          "ok": [True, False, True], "at": at.astype(f"datetime64[{unit}, {tz}]" if tz else
                                                                      f"datetime64[{unit}]"),
                          "big": [1e20, -0.0, 3.0], "f32": np.array([0.1, 2, 3], dtype="float32")})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    data = buffer.getvalue()
    table = pq.read_table(io.BytesIO(data))
    rows, numbers = _columns_grid(table.column_names, [c.to_pylist() for c in table.columns])
    fast = _read(data, "f.parquet")
    pd.testing.assert_frame_equal(fast.frame, _build_raw(rows, numbers, "f.parquet", None, [], True).frame)
