"""Turn whatever a quality lead uploads into canonical pandas frames, with a ledger of every row.

Questions this module answers:

* which bytes are these (CSV in which encoding and delimiter, XLSX, Parquet) and which
  rows are headers (plain table, Qualtrics' three header rows, SurveyMonkey's two,
  Zendesk's satisfaction export)? -> `read_table`
* which column is the score, the agent, the ticket...? -> `detect_mapping`, `load_mapping`
* on which rating scale are the scores? -> `infer_scale`
* which rows can the audit use, and why was each other row set aside? -> `load_responses`,
  `load_population`, whose `LoadedTable` always balances: ``rows_read == len(frame) +
  sum(note.count for note in dropped)``.

Row numbers are those a spreadsheet shows for the file (header = row 1), so that a
quality lead can find a row the audit talks about. Nothing is removed without a reason:
rows are only *dropped* for an unusable score (responses) or a missing/duplicate
interaction id (population); every other problem is *flagged* and the row kept.

Unusable input raises `audit.errors.InputError` naming the file and, where it applies,
the row and the column; no pandas/openpyxl/pyarrow exception escapes for bad input.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import math
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from audit.errors import InputError
from audit.limits import Limits, return_freed_memory

RESPONSE_FIELDS: tuple[str, ...] = ("score", "response_id", "interaction_id", "customer_id", "agent_id",
                                    "submitted_at", "interaction_at", "duration_s")
POPULATION_FIELDS: tuple[str, ...] = ("interaction_id", "invited", "responded", "agent_id")
ID_FIELDS: tuple[str, ...] = ("response_id", "interaction_id", "customer_id", "agent_id")
TIME_FIELDS: tuple[str, ...] = ("submitted_at", "interaction_at")
SOURCE_ROW = "_source_row"
MAX_LISTED_ROWS = 20          # row numbers kept per RowNote: enough to find the pattern, short enough to print
MAX_LABEL_LEVELS = 60         # text with at most this many labels is held as a categorical (a segment's most levels)
SCALE_COVERAGE = 0.99         # share of whole-number scores a candidate scale must hold (rest = codes like 99)

ExportFormat = Literal["table", "qualtrics", "surveymonkey", "zendesk"]


@dataclass(frozen=True)
class RowNote:
    """Rows that share one problem: the reason in plain language, how many, and where."""

    reason: str
    count: int
    rows: tuple[int, ...]       # source rows as a spreadsheet shows them (header = row 1), first 20 only


@dataclass(frozen=True)
class LoadedTable:
    """One loaded file: the usable rows in canonical form plus the ledger of what happened to the rest.

    ``frame`` holds the kept rows: ``_source_row`` (int), the mapped canonical columns under
    their canonical names and every other column under its original header.
    ``rows_read == len(frame) + sum(n.count for n in dropped)`` always holds.
    """

    frame: pd.DataFrame
    name: str
    sha256: str | None
    rows_read: int
    mapping: dict[str, str]
    export_format: str
    dropped: tuple[RowNote, ...]
    flagged: tuple[RowNote, ...]
    scale: tuple[int, int] | None
    notes: tuple[str, ...]

    @property
    def rows_used(self) -> int:
        """Rows kept: read minus dropped (the ledger), whether or not `frame` still holds them."""
        return self.rows_read - sum(note.count for note in self.dropped)


# --------------------------------------------------------------------------------------
# Header variants. Matching is on the header lower-cased with everything but letters and
# digits removed, so "CSAT Score", "csat_score" and "CSAT-score" are one variant. Order
# matters: when several headers fit one field, the earlier variant wins.
# --------------------------------------------------------------------------------------
_VARIANTS: dict[str, tuple[str, ...]] = {
    "score": ("score", "csat", "csatscore", "csatrating", "rating", "satisfaction", "satisfactionscore",
              "satisfactionrating", "overallsatisfaction", "customersatisfaction", "customersatisfactionscore",
              "overallcsat", "overallrating", "nps", "npsscore", "likelihoodtorecommend", "ltr"),
    "response_id": ("responseid", "surveyresponseid", "surveyid", "respondentid"),
    "interaction_id": ("interactionid", "ticketid", "ticket", "ticketnumber", "callid", "contactid", "caseid",
                       "casenumber", "conversationid", "chatid"),
    "customer_id": ("customerid", "customer", "clientid", "client", "accountid", "requesterid", "requester",
                    "callerid"),
    "agent_id": ("agentid", "agent", "agentname", "assignee", "assigneename", "assigneeid", "rep", "repname",
                 "representative", "advisor", "advisorname", "employeeid"),
    "submitted_at": ("submittedat", "surveydate", "responsedate", "datesubmitted", "submissiondate",
                     "completedat", "completiondate", "recordeddate", "enddate"),
    "interaction_at": ("interactionat", "interactiondate", "calldate", "contactdate", "ticketcreated",
                       "ticketcreatedat", "createdat", "createddate"),
    "duration_s": ("durations", "duration", "durationinseconds", "durationseconds", "timetaken", "timetakens"),
    "invited": ("invited", "surveysent", "surveyoffered"),
    "responded": ("responded", "surveycompleted"),
}
for _field in (*RESPONSE_FIELDS, *POPULATION_FIELDS):      # the canonical name itself always matches, first
    _VARIANTS[_field] = (re.sub(r"[^0-9a-z]", "", _field),
                         *(v for v in _VARIANTS[_field] if v != re.sub(r"[^0-9a-z]", "", _field)))

# Question text that marks a rating question in raw survey-tool exports.
_SCORE_QUESTION = re.compile(r"satisf|recommend|\blikely\b|\brate\b|\brating\b|\bcsat\b|\bnps\b", re.I)
# Header/question words that mean the 0-10 likelihood-to-recommend scale (Reichheld 2003).
_ZERO_TEN_WORDS = re.compile(r"\bnps\b|recommend|\blikely\b|\bltr\b|promoter")


def _zero_ten_hint(text: str) -> bool:
    """Does a header or question name the likelihood-to-recommend question ("NPS_score", "npsScore")?"""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return bool(_ZERO_TEN_WORDS.search(re.sub(r"[^a-z0-9]+", " ", words.lower())))


# --------------------------------------------------------------------------------------
# Answer labels. Keys are normalized (lower case, single spaces, letters/digits only).
# --------------------------------------------------------------------------------------


def _five_point_labels() -> dict[str, int]:
    """Bipolar 5-point labels: 'Very/Extremely/Strongly <pos>'=5 ... 'Very <neg>'=1 (Likert 1932)."""
    table: dict[str, int] = {"neutral": 3, "neither": 3}
    for pos, neg in (("satisfied", "dissatisfied"), ("agree", "disagree"), ("likely", "unlikely"),
                     ("happy", "unhappy")):
        for strong in ("very", "extremely", "strongly", "completely", "totally"):
            table[f"{strong} {pos}"] = 5
            table[f"{strong} {neg}"] = 1
        for mild in ("", "somewhat ", "mostly ", "fairly "):
            table[f"{mild}{pos}"] = 4
            table[f"{mild}{neg}"] = 2
        for a, b in ((pos, neg), (neg, pos)):
            table[f"neither {a} nor {b}"] = 3
            table[f"neither {a} or {b}"] = 3
    return table


_FIVE_POINT = _five_point_labels()
_ZERO_TEN_ENDPOINTS = {"extremely likely": 10, "not at all likely": 0}
_QUALITY_EXCELLENT = {"excellent": 5, "very good": 4, "good": 3, "fair": 2, "poor": 1}
_QUALITY_VERY_POOR = {"very good": 5, "good": 4, "fair": 3, "poor": 2, "very poor": 1}
# Zendesk satisfaction ratings (Good = 1, Bad = 0); offered/unoffered = no answer.
_BINARY = {"good": 1, "bad": 0, "good with comment": 1, "bad with comment": 0, "goodwithcomment": 1,
           "badwithcomment": 0}
_NOT_ANSWERED = {"offered", "unoffered", "not offered"}
_LEADING_NUMBER = re.compile(r"^([+-]?\d+(?:[.,]\d+)?)\s*(?:[-–—:=.)]+\s*|\(\s*)([^\d\s].*?)\s*\)?$")
_TRAILING_NUMBER = re.compile(r"^([^\d(]*?[A-Za-z][^\d(]*?)\s*\(\s*([+-]?\d+(?:[.,]\d+)?)\s*\)$")

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?\d*,\d+$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_TRUE = {"1", "1.0", "yes", "y", "true"}
_FALSE = {"0", "0.0", "no", "n", "false"}

# Status of one score cell.
_MISSING, _OK, _NOT_SCORE, _UNANSWERED = 0, 1, 2, 3


def _norm(header: object) -> str:
    """Header key for matching: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


def _label_key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _fmt_scale(scale: tuple[float, float]) -> str:
    return f"{scale[0]:g}-{scale[1]:g}"


def _first_rows(rows: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(r) for r in sorted(rows)[:MAX_LISTED_ROWS])


# ======================================================================================
# Reading: bytes -> grid of strings -> raw frame with resolved headers
# ======================================================================================
@dataclass(frozen=True)
class _Raw:
    frame: pd.DataFrame                  # string cells, index = source row numbers
    name: str
    sha256: str | None
    export_format: ExportFormat
    notes: tuple[str, ...]
    questions: dict[str, str] = field(default_factory=dict)   # column -> question text (raw exports)
    decimal_comma: bool = True           # False for comma-delimited CSV, where "4,5" would be two cells


def _source_name(source: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, pd.DataFrame):
        return "data frame"
    if isinstance(source, (str, Path)):
        return Path(source).name
    attr = getattr(source, "name", None)
    if isinstance(attr, str) and attr:
        return Path(attr).name
    return "uploaded file"


def _source_bytes(source: Any, name: str) -> bytes:
    """The bytes of a path, a bytes object or a binary file-like object (Streamlit's UploadedFile)."""
    if isinstance(source, (str, Path)):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror or exc})", file=name) from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if hasattr(source, "getvalue"):
        data = source.getvalue()
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        data = source.read()
    else:
        raise TypeError(f"cannot read a table from {type(source).__name__}: pass a path, bytes, "
                        "a binary file object or a DataFrame")
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data)


def _cell_text(value: Any) -> str:
    """One typed cell (XLSX, Parquet, DataFrame) as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return ""
        # whole numbers as integers: ids stored as 1001.0 must read back as "1001"
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if value is pd.NaT:
        return ""
    if isinstance(value, (datetime, date, time, pd.Timestamp)):
        return value.isoformat()
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError, ArithmeticError):   # arrays; Decimal('sNaN') raises InvalidOperation
        pass
    return str(value)


def _decode(data: bytes, name: str) -> tuple[str, list[str]]:
    """Text of a delimited file: BOM-marked UTF-8/UTF-16, else UTF-8, else cp1252, else Latin-1."""
    notes: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        body, label = data[len(codecs.BOM_UTF8):], "UTF-8 (with byte-order mark)"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("the file says UTF-8 but holds invalid bytes", file=name,
                             expected="a CSV saved as UTF-8") from exc
        notes.append(f"decoded as {label}")
        return text, notes
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError("the file says UTF-16 but holds invalid bytes", file=name,
                             expected="a CSV or Excel 'Unicode text' file") from exc
        notes.append("decoded as UTF-16 (Excel 'Unicode text')")
        return text, notes
    head = data[:400]
    if len(head) >= 4 and head[1::2].count(0) >= 0.9 * len(head[1::2]) and head[0::2].count(0) == 0:
        # UTF-16 without a byte-order mark: every other byte of ASCII text is NUL
        try:
            text = data.decode("utf-16-le")
            notes.append("decoded as UTF-16 little-endian (no byte-order mark)")
            return text, notes
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise InputError("the file is not readable text (binary content)", file=name,
                         expected="a CSV, XLSX or Parquet file")
    try:
        return data.decode("utf-8"), notes
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        notes.append("decoded as cp1252 (Windows Western European): the file is not valid UTF-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        notes.append("decoded as Latin-1: the file is neither UTF-8 nor cp1252")
    return text, notes


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    return control > 0.01 * len(sample)


def _sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the most rows into the same number (> 1) of cells."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rfind("\n")]
    best, best_score = ",", (0.0, False, 0)
    for delim in (",", ";", "\t", "|"):
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim)
                    if any(c.strip() for c in r)][:500]
        except csv.Error:
            continue
        if not rows:
            continue
        counts = pd.Series([len(r) for r in rows])
        mode = int(counts.mode().max())
        if mode < 2:
            continue
        score = (float((counts == mode).mean()), len(rows[0]) == mode, mode)
        if score > best_score:
            best, best_score = delim, score
    return best


# Appended to the text before parsing: it comes back as a record of its own unless the file
# ends inside a quoted cell, which the csv module then silently runs to the end of the file.
_END = "\x1e\x1f end of file \x1f\x1e"


def _csv_grid(text: str, name: str) -> tuple[list[list[str]], list[int], str]:
    delim = _sniff_delimiter(text)
    end = _END if text.endswith(("\n", "\r")) else "\n" + _END
    reader = csv.reader(io.StringIO(text + end, newline=""), delimiter=delim)
    rows: list[list[str]] = []
    try:
        for record in reader:
            rows.append(record)
    except csv.Error as exc:
        raise InputError(f"the file cannot be read as delimited text ({exc})", file=name, row=len(rows) + 1,
                         expected="a CSV with balanced quotes") from exc
    if rows[-1] != [_END]:
        # every line after the quote would be one cell, and those rows would vanish from the ledger
        raise InputError("a quote opened in this row is never closed", file=name, row=len(rows),
                         expected="a CSV with balanced quotes")
    rows.pop()
    # a spreadsheet shows each record (even one with embedded newlines) as one row
    return rows, list(range(1, len(rows) + 1)), delim


def _xlsx_grid(data: bytes, name: str) -> tuple[list[list[str]], list[int], list[str]]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # openpyxl warns about unsupported styles/extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheets = book.worksheets
            if not sheets:
                raise InputError("the workbook has no worksheet", file=name, expected="an XLSX with data")
            rows = [[_cell_text(v) for v in row] for row in sheets[0].iter_rows(min_row=1, values_only=True)]
            titles = [s.title for s in sheets]
            book.close()
    except InputError:
        raise
    except Exception as exc:   # openpyxl raises zipfile/KeyError/ValueError/... for damaged files
        raise InputError(f"the XLSX file cannot be opened ({type(exc).__name__}: {exc})", file=name,
                         expected="an .xlsx workbook saved by Excel or LibreOffice") from exc
    notes = []
    if len(titles) > 1:
        notes.append(f"XLSX has {len(titles)} sheets: read the first, '{titles[0]}' "
                     f"(ignored: {', '.join(repr(t) for t in titles[1:])})")
    return rows, list(range(1, len(rows) + 1)), notes


def _columns_grid(headers: Sequence[Any], columns: Sequence[Sequence[Any]]) -> tuple[list[list[str]], list[int]]:
    """Header + data rows from typed columns; row numbers as if written to a sheet (header = 1)."""
    texts = [[_cell_text(v) for v in col] for col in columns]
    n = len(texts[0]) if texts else 0
    rows = [[_cell_text(h) if not isinstance(h, str) else h for h in headers]]
    rows.extend([col[i] for col in texts] for i in range(n))
    return rows, list(range(1, n + 2))


def _arrow_cell_texts(column: Any) -> np.ndarray:
    """`_cell_text` of every value of an Arrow column, vectorised for the common types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        return pc.fill_null(pc.cast(column, pa.string()), "").to_numpy(zero_copy_only=False).astype(object)
    if pa.types.is_boolean(kind):
        values = column.to_numpy(zero_copy_only=False)
        return np.array([_cell_text(v) for v in values], dtype=object) if column.null_count else \
            np.where(values.astype(bool), "true", "false").astype(object)
    if pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype("float64")
        out = np.full(values.size, "", dtype=object)
        finite = np.isfinite(values)
        whole = finite & (values == np.round(values)) & (np.abs(values) < 1e15)
        out[whole] = values[whole].astype(np.int64).astype(str)
        other = ~whole & ~np.isnan(values)
        out[other] = [repr(float(v)) for v in values[other]]
        return out
    if pa.types.is_timestamp(kind):
        # pandas' Timestamps print as datetime.isoformat() does; to_pylist() would build
        # a tzinfo per value
        return np.array([_cell_text(v) for v in column.to_pandas()], dtype=object)
    return np.array([_cell_text(v) for v in column.to_pylist()], dtype=object)


def _parquet_grid(data: bytes, name: str) -> tuple[list[list[str]], list[int]] | _Raw:
    """Parquet via pyarrow (typed columns become text cells like every other format).

    A plain table (one header row, no blank rows or unnamed empty columns) becomes the
    `_Raw` directly, column by column; anything else goes through the row grid."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
        names = table.column_names         # decoded lazily: a damaged name fails here, not on read
        columns = table.columns
    except Exception as exc:   # pyarrow.lib.ArrowInvalid, OSError, UnicodeDecodeError, ... for damaged files
        raise InputError(f"the Parquet file cannot be opened ({type(exc).__name__}: {exc})", file=name,
                         expected="a Parquet file written by pandas/pyarrow/Spark") from None
    texts = []
    for header, column in zip(names, columns):
        try:
            texts.append(_arrow_cell_texts(column))
        except (pa.ArrowException, UnicodeDecodeError) as exc:     # e.g. text that is not UTF-8
            raise InputError(f"a column of the Parquet file cannot be read ({type(exc).__name__}: {exc})",
                             file=name, column=header,
                             expected="a Parquet file written by pandas/pyarrow/Spark") from None
    headers = [h.strip().lstrip("\ufeff") for h in names]
    plain = (table.num_rows > 0 and _plain_columns(headers, [pa.array(t, type=pa.string()) for t in texts])
             and _detect_layout([headers] + [[t[i] for t in texts] for i in range(min(2, table.num_rows))]) == "table")
    if not plain:
        return _columns_grid(names, texts)
    headers, notes = _unique_headers(headers)
    frame = pd.DataFrame({h: pd.array(t, dtype="str") for h, t in zip(headers, texts)})
    frame.index = pd.Index(np.arange(2, len(frame) + 2), dtype="int64", name=SOURCE_ROW)
    export_format = _table_format(frame, notes)
    return _Raw(frame=frame, name=name, sha256=None, export_format=export_format, notes=tuple(notes))


def _frame_grid(frame: pd.DataFrame) -> tuple[list[list[str]], list[int]]:
    obj = frame.astype(object)
    return _columns_grid([str(c) for c in frame.columns], [obj.iloc[:, j].tolist() for j in range(obj.shape[1])])


def _is_blank(row: Sequence[str]) -> bool:
    return not any(c.strip() for c in row)


def _unique_headers(headers: list[str]) -> tuple[list[str], list[str]]:
    """Blank headers -> 'Unnamed <column number>', repeats -> 'Agent (2)'; notes say which."""
    notes: list[str] = []
    out: list[str] = []
    blank = [j + 1 for j, h in enumerate(headers) if not h]
    taken = {h for h in headers if h}
    seen: dict[str, int] = {}
    for j, h in enumerate(headers):
        if not h:
            h = f"Unnamed {j + 1}"
            while h in taken:
                h += "_"
        count = seen.get(h, 0) + 1
        seen[h] = count
        if count > 1:
            new = f"{h} ({count})"
            while new in taken or new in seen:
                count += 1
                new = f"{h} ({count})"
            seen[h] = count
            notes.append(f"duplicate header '{h}' in column {j + 1} renamed '{new}'")
            h = new
        taken.add(h)
        out.append(h)
    if blank:
        notes.insert(0, f"blank header in column{'s' if len(blank) > 1 else ''} "
                        f"{', '.join(map(str, blank))} named 'Unnamed <column>'")
    return out, notes


def _surveymonkey_headers(first: list[str], second: list[str]) -> tuple[list[str], dict[int, str]]:
    """SurveyMonkey: question text on row 1 (blank over the further options), answer option on row 2."""
    headers: list[str] = []
    questions: dict[int, str] = {}
    question = ""
    for j, (top, sub) in enumerate(zip(first, second)):
        top, sub = top.strip(), sub.strip()
        if top:
            question = top
        if sub.lower() in ("", "response", "open-ended response"):
            headers.append(top or (question if sub else ""))
        else:
            headers.append(f"{question} - {sub}" if question else sub)
        questions[j] = question if (top or sub) else ""
    return headers, questions


def _detect_layout(rows: list[list[str]]) -> ExportFormat:
    if len(rows) >= 3 and any(c.strip().startswith('{"ImportId"') for c in rows[2]):
        return "qualtrics"
    if len(rows) >= 2 and any(_norm(c) == "respondentid" for c in rows[0]) and any(
            c.strip().lower() in ("response", "open-ended response") for c in rows[1]):
        return "surveymonkey"
    return "table"


def _table_format(frame: pd.DataFrame, notes: list[str]) -> ExportFormat:
    """'zendesk' (with a note saying how its labels are read) or a plain 'table'."""
    if not _is_zendesk(frame):
        return "table"
    notes.append("Zendesk satisfaction export: Good = 1, Bad = 0 (scale 0-1); "
                 "Offered/Unoffered = survey not answered")
    return "zendesk"


def _is_zendesk(frame: pd.DataFrame) -> bool:
    if not any(_norm(c) in ("ticketid", "ticket") for c in frame.columns):
        return False
    for col in frame.columns:
        if _norm(col) in ("satisfaction", "satisfactionscore", "satisfactionrating", "rating"):
            values = {_label_key(v) for v in frame[col].astype(str) if v.strip()}
            if values and values <= (set(_BINARY) | _NOT_ANSWERED):
                return True
    return False


def _build_raw(rows: list[list[str]], numbers: list[int], name: str, sha: str | None,
               notes: list[str], decimal_comma: bool) -> _Raw:
    start = 0
    while start < len(rows) and _is_blank(rows[start]):
        start += 1
    if start == len(rows):
        raise InputError("the file is empty", file=name, expected="a header row and at least one data row")
    rows, numbers = rows[start:], numbers[start:]
    width = max(len(r) for r in rows)
    rows = [list(r) + [""] * (width - len(r)) for r in rows]
    layout = _detect_layout(rows)
    questions: dict[int, str] = {}
    if layout == "qualtrics":
        ids, texts = [c.strip() for c in rows[0]], [c.strip() for c in rows[1]]
        headers = [i or t for i, t in zip(ids, texts)]
        questions = dict(enumerate(texts))
        n_header = 3
        notes.append(f"Qualtrics export: 3 header rows (column ids, question text, import ids); "
                     f"first data row is row {numbers[0] + 3}")
    elif layout == "surveymonkey":
        headers, questions = _surveymonkey_headers(rows[0], rows[1])
        n_header = 2
        notes.append(f"SurveyMonkey export: 2 header rows (question, answer option); "
                     f"first data row is row {numbers[0] + 2}")
    else:
        headers = [c.strip().lstrip("\ufeff") for c in rows[0]]
        n_header = 1
    data, data_numbers = rows[n_header:], numbers[n_header:]

    # Columns with neither a header nor any value are trailing delimiters, not data.
    keep = [j for j in range(width) if headers[j] or any(r[j].strip() for r in data)]
    if len(keep) < width:
        notes.append(f"{_plural(width - len(keep), 'empty column')} without a header ignored")
        headers = [headers[j] for j in keep]
        data = [[r[j] for j in keep] for r in data]
        questions = {i: questions.get(j, "") for i, j in enumerate(keep)}
    headers, header_notes = _unique_headers(headers)
    notes.extend(header_notes)

    blank_rows = [n for r, n in zip(data, data_numbers) if _is_blank(r)]
    if blank_rows:
        listed = ", ".join(map(str, blank_rows[:MAX_LISTED_ROWS]))
        more = ", ..." if len(blank_rows) > MAX_LISTED_ROWS else ""
        notes.append(f"{_plural(len(blank_rows), 'blank row')} skipped (rows {listed}{more})")
        pairs = [(r, n) for r, n in zip(data, data_numbers) if not _is_blank(r)]
        data, data_numbers = [p[0] for p in pairs], [p[1] for p in pairs]
    if not data:
        raise InputError("the file has a header but no data rows", file=name,
                         row=(numbers[0] + n_header) if numbers else None,
                         expected="at least one data row below the header")
    columns = {h: [r[j] for r in data] for j, h in enumerate(headers)}
    frame = pd.DataFrame(columns, index=pd.Index(data_numbers, name=SOURCE_ROW, dtype="int64"))
    export_format = _table_format(frame, notes) if layout == "table" else layout
    question_text = {h: questions.get(j, "") for j, h in enumerate(headers) if questions.get(j, "")}
    return _Raw(frame=frame, name=name, sha256=sha, export_format=export_format, notes=tuple(notes),
                questions=question_text, decimal_comma=decimal_comma)


def _plain_columns(headers: Sequence[str], columns: Sequence[Any]) -> bool:
    """No blank row and no empty column without a header among these Arrow string columns:
    what `_build_raw` would otherwise skip (with a note) and the columnar paths do not."""
    import pyarrow.compute as pc

    def blank(j: int) -> Any:
        return pc.equal(pc.utf8_trim_whitespace(columns[j]), "")

    if not columns or any(not h and pc.all(blank(j)).as_py() for j, h in enumerate(headers)):
        return False
    all_blank = blank(0)
    for j in range(1, len(columns)):
        if not pc.any(all_blank).as_py():
            break
        all_blank = pc.and_(all_blank, blank(j))
    return not pc.any(all_blank).as_py()


def _fast_delimited(data: bytes, name: str, sha: str) -> _Raw | None:
    """Well-formed UTF-8 delimited text, read column by column by pyarrow.

    The same `_Raw` as the careful path (`_decode` → `_csv_grid` → `_build_raw`) without a
    Python list per row, which costs ~1 GB per 5 M cells. None when the file needs the
    careful path: another encoding, a multi-row header, blank rows, rows of different
    widths, empty columns without a header, or anything pyarrow rejects.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    notes: list[str] = []
    body = data
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8):]
        notes.append("decoded as UTF-8 (with byte-order mark)")
    # pyarrow skips empty lines, which would shift the row numbers the ledger reports
    if body[:1] in (b"\n", b"\r") or b"\n\n" in body or b"\n\r\n" in body or b"\r\r" in body:
        return None
    head = body[:65536]
    if len(body) > len(head):
        head = head[:head.rfind(b"\n")]
    try:
        head_text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in head_text or _looks_binary(head_text):
        return None
    delim = _sniff_delimiter(head_text)
    try:
        first = list(zip(range(3), csv.reader(io.StringIO(head_text, newline=""), delimiter=delim)))
    except csv.Error:
        return None
    first_rows = [r for _, r in first]
    if not first_rows or _detect_layout(first_rows) != "table":
        return None
    width = len(first_rows[0])
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={f"f{j}": pa.string() for j in range(width)},
                                                 strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    # the parser's blocks, freed, stay in the process (0.15 GB for 1.06M rows) under the
    # conversion below unless handed back
    return_freed_memory()
    if table.num_columns != width or table.num_rows < 2:
        return None
    # a quote never closed runs to the end of the file as one cell of the last row: the careful
    # path tells that from a last cell that really holds a line break
    last_row = table.slice(table.num_rows - 1).to_pylist()[0].values()
    if any("\n" in cell or "\r" in cell for cell in last_row):
        return None
    headers = [str(table.column(j)[0].as_py()).strip().lstrip("\ufeff") for j in range(width)]
    table = table.slice(1)
    if not _plain_columns(headers, table.columns):
        return None
    if delim != ",":
        notes.append(f"delimiter {'tab' if delim == chr(9) else repr(delim)} detected")
    headers, header_notes = _unique_headers(headers)
    notes.extend(header_notes)
    # column by column, each Arrow column let go once converted: pandas copies text into its
    # own (large) strings, and a whole-table conversion held both copies of every column
    text = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get
    columns: dict[str, pd.Series] = {}
    for header in headers:
        columns[header] = table.column(0).to_pandas(types_mapper=text)
        table = table.remove_column(0)
    frame = pd.DataFrame(columns, copy=False)
    frame.index = pd.Index(np.arange(2, len(frame) + 2), dtype="int64", name=SOURCE_ROW)
    export_format = _table_format(frame, notes)
    return _Raw(frame=frame, name=name, sha256=sha, export_format=export_format, notes=tuple(notes),
                decimal_comma=delim != ",")


def _read(source: Any, name: str | None) -> _Raw:
    name = _source_name(source, name)
    if isinstance(source, pd.DataFrame):
        if source.shape[1] == 0:
            raise InputError("the table has no columns", file=name, expected="a header row and data rows")
        rows, numbers = _frame_grid(source.drop(columns=SOURCE_ROW, errors="ignore"))
        notes = []
        if SOURCE_ROW in source.columns:
            # a frame this loader produced: keep pointing at the rows of the original file
            given = pd.to_numeric(source[SOURCE_ROW], errors="coerce")
            if given.notna().all() and (given == given.round()).all() and given.is_unique:
                numbers = [1] + given.astype("int64").tolist()
                notes.append(f"row numbers taken from the frame's {SOURCE_ROW} column")
            else:
                rows, numbers = _frame_grid(source)
        return _build_raw(rows, numbers, name, None, notes, True)
    data = _source_bytes(source, name)
    sha = hashlib.sha256(data).hexdigest()
    suffix = Path(name).suffix.lower()
    if not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise InputError("the file is empty", file=name, expected="a header row and at least one data row")
    if data.startswith(b"PAR1"):
        grid = _parquet_grid(data, name)
        if isinstance(grid, _Raw):
            return dataclasses.replace(grid, sha256=sha)
        return _build_raw(*grid, name, sha, [], True)
    if data.startswith(b"PK\x03\x04"):
        rows, numbers, notes = _xlsx_grid(data, name)
        return _build_raw(rows, numbers, name, sha, notes, True)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("this is a legacy Excel 97-2003 (.xls) workbook", file=name,
                         expected="the sheet saved as .xlsx or CSV")
    if suffix in (".xlsx", ".xlsm"):
        raise InputError("the XLSX file cannot be opened (not a zip-based workbook)", file=name,
                         expected="an .xlsx workbook saved by Excel or LibreOffice")
    if suffix in (".parquet", ".pq"):
        raise InputError("the Parquet file cannot be opened (no Parquet signature)", file=name,
                         expected="a Parquet file written by pandas/pyarrow/Spark")
    fast = _fast_delimited(data, name, sha)
    if fast is not None:
        return fast
    text, notes = _decode(data, name)
    if _looks_binary(text):
        raise InputError("the file is not readable text (binary content)", file=name,
                         expected="a CSV, XLSX or Parquet file")
    rows, numbers, delim = _csv_grid(text, name)
    if delim != ",":
        notes.append(f"delimiter {'tab' if delim == chr(9) else repr(delim)} detected")
    return _build_raw(rows, numbers, name, sha, notes, delim != ",")


def _read_within(source: Any, name: str | None, limits: Limits) -> _Raw:
    """`_read`, refusing a file over `limits`: by its size before it is read, by its rows after."""
    limits.check_source(source, _source_name(source, name))
    raw = _read(source, name)
    limits.check_rows(len(raw.frame), raw.name)
    # the file's bytes and the parser's buffers are freed by now but stay in the process
    # (~0.26 GB at 1.06M responses) unless handed back, under every column converted next
    return_freed_memory()
    return raw


def read_table(source: Any, *, name: str | None = None,
               limits: Limits = Limits()) -> tuple[pd.DataFrame, str, str | None, tuple[str, ...]]:
    """Read a survey file into raw string cells, with its header row(s) resolved.

    Answers: what are the rows and columns of this upload, whatever its format?
    ``source`` is a path, bytes, a binary file-like object (Streamlit's ``UploadedFile``)
    or a DataFrame. CSV (delimiter sniffed among , ; tab |; UTF-8 with/without BOM,
    UTF-16 with BOM, cp1252/Latin-1 fallback), XLSX (first sheet) and Parquet are read;
    Qualtrics (3 header rows) and SurveyMonkey (2 header rows) exports are recognized.

    Returns ``(frame, export_format, sha256, notes)``: every cell a string ("" when
    empty, no type guessing), the index the source row number as a spreadsheet shows
    it (header = 1), blank rows skipped (and said in ``notes``). For raw exports,
    ``frame.attrs["questions"]`` maps each column to its question text. A file over
    `limits` (`audit.limits`) raises `InputError`.
    """
    raw = _read_within(source, name, limits)
    frame = raw.frame.copy()
    frame.attrs["questions"] = dict(raw.questions)
    return frame, raw.export_format, raw.sha256, raw.notes


# ======================================================================================
# Mapping
# ======================================================================================
def detect_mapping(columns: Sequence[str], kind: Literal["responses", "population"]) -> dict[str, str]:
    """Which header holds each canonical field, from common header variants.

    Matching ignores case, spaces and punctuation ("CSAT Score" = "csat_score"); the
    canonical name itself always matches; each header serves one field at most; when
    several headers fit one field the earliest variant in the list, then the leftmost
    column, wins. Returns ``{canonical field: original header}`` for the fields found.
    """
    if kind not in ("responses", "population"):
        raise ValueError(f"kind must be 'responses' or 'population', not {kind!r}")
    fields = RESPONSE_FIELDS if kind == "responses" else POPULATION_FIELDS
    keyed = [(str(c), _norm(c)) for c in columns]
    used: set[str] = set()
    found: dict[str, str] = {}
    for fld in fields:
        for variant in _VARIANTS[fld]:
            match = next((c for c, k in keyed if k == variant and c not in used), None)
            if match is not None:
                found[fld] = match
                used.add(match)
                break
    return found


def _mapping_dict(obj: Any, section: str, fields: tuple[str, ...], name: str) -> dict[str, str]:
    if not isinstance(obj, Mapping):
        raise InputError(f"the '{section}' mapping must be a table of field = header", file=name,
                         column=section, expected='e.g. {"score": "CSAT Score"}')
    out = {}
    for key, value in obj.items():
        if key not in fields:
            raise InputError(f"unknown {section} field '{key}' in the mapping", file=name, column=str(key),
                             expected="one of: " + ", ".join(fields))
        if not isinstance(value, str):
            raise InputError(f"the header for '{key}' must be text, not {type(value).__name__}", file=name,
                             column=str(key), expected="a column header as it appears in the file")
        out[key] = value
    return out


def load_mapping(path: Any) -> dict[str, dict[str, str]]:
    """Read a column mapping file (JSON or TOML) into ``{"responses": {...}, "population": {...}}``.

    Answers: which file header should be used for which canonical field? A flat mapping
    such as ``{"score": "CSAT Score"}`` is the responses mapping. ``path`` may also be
    bytes or an uploaded file object.
    """
    name = _source_name(path, None)
    data = _source_bytes(path, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("the mapping file is not UTF-8 text", file=name, expected="a JSON or TOML file") from exc
    suffix = Path(name).suffix.lower()
    parsers = ["toml"] if suffix == ".toml" else ["json"] if suffix == ".json" else ["json", "toml"]
    obj: Any = None
    error: InputError | None = None
    for kind in parsers:
        try:
            obj = json.loads(text) if kind == "json" else tomllib.loads(text)
            error = None
            break
        except json.JSONDecodeError as exc:
            error = InputError(f"the mapping is not valid JSON ({exc.msg}, column {exc.colno})", file=name,
                               row=exc.lineno, expected='e.g. {"score": "CSAT Score"}')
        except tomllib.TOMLDecodeError as exc:
            error = InputError(f"the mapping is not valid TOML ({exc})", file=name,
                               expected='e.g. score = "CSAT Score"')
    if error is not None:
        raise error
    if not isinstance(obj, dict):
        raise InputError("the mapping must be an object of field: header pairs", file=name,
                         expected='e.g. {"score": "CSAT Score"}')
    if obj and set(obj) <= {"responses", "population"} and all(isinstance(v, Mapping) for v in obj.values()):
        return {"responses": _mapping_dict(obj.get("responses", {}), "responses", RESPONSE_FIELDS, name),
                "population": _mapping_dict(obj.get("population", {}), "population", POPULATION_FIELDS, name)}
    return {"responses": _mapping_dict(obj, "responses", RESPONSE_FIELDS, name), "population": {}}


def _find_header(wanted: str, raw: _Raw) -> str | None:
    columns = [str(c) for c in raw.frame.columns]
    if wanted in columns:
        return wanted
    loose = [c for c in columns if c.strip().lower() == wanted.strip().lower()]
    if len(loose) == 1:
        return loose[0]
    by_question = [c for c, q in raw.questions.items() if q.strip().lower() == wanted.strip().lower()]
    if len(by_question) == 1:
        return by_question[0]
    keyed = [c for c in columns if _norm(c) == _norm(wanted)]
    return keyed[0] if len(keyed) == 1 and _norm(wanted) else None


def _resolve_mapping(raw: _Raw, kind: Literal["responses", "population"],
                     explicit: Mapping[str, str] | None) -> tuple[dict[str, str], list[str]]:
    fields = RESPONSE_FIELDS if kind == "responses" else POPULATION_FIELDS
    columns = [str(c) for c in raw.frame.columns]
    chosen: dict[str, str] = {}
    skipped: set[str] = set()
    notes: list[str] = []
    for fld, header in (explicit or {}).items():
        if fld not in fields:
            raise InputError(f"unknown {kind} field '{fld}' in the mapping", file=raw.name, column=str(fld),
                             expected="one of: " + ", ".join(fields))
        if header is None or header == "":
            skipped.add(fld)          # explicitly "no column for this field"
            continue
        col = _find_header(str(header), raw)
        if col is None:
            raise InputError(f"the mapping names column '{header}' for {fld}, but the file has no such column",
                             file=raw.name, column=str(header),
                             expected="one of the headers found: " + ", ".join(repr(c) for c in columns))
        chosen[fld] = col
    taken = set(chosen.values())
    for fld, col in detect_mapping([c for c in columns if c not in taken], kind).items():
        if fld not in chosen and fld not in skipped:
            chosen[fld] = col
    if (kind == "responses" and "score" not in chosen and "score" not in skipped
            and raw.export_format in ("qualtrics", "surveymonkey")):
        col = _score_from_questions(raw, set(chosen.values()))
        if col is not None:
            chosen["score"] = col
            notes.append(f"score column '{col}' chosen from its question text: "
                         f"'{raw.questions.get(col, col)[:100]}'")
    return chosen, notes


def _scorable_share(series: pd.Series, decimal_comma: bool) -> float:
    scored = _score_cells(series, hint_text="", decimal_comma=decimal_comma)
    answered = scored.status != _MISSING
    return float((scored.status[answered] == _OK).mean()) if answered.any() else 0.0


def _looks_like_scores(series: pd.Series, decimal_comma: bool) -> bool:
    """Nine in ten answers read as scores, and the numbers among them lie on 0-10 (not ids or amounts)."""
    scored = _score_cells(series, hint_text="", decimal_comma=decimal_comma)
    answered = scored.status != _MISSING
    if not answered.any() or (scored.status[answered] == _OK).mean() < 0.9:
        return False
    values = scored.values[scored.status == _OK]
    return bool(((values >= 0) & (values <= 10)).mean() >= 0.9)


def _score_from_questions(raw: _Raw, taken: set[str]) -> str | None:
    """First column whose question text asks for a rating and whose answers read as scores."""
    for col in raw.frame.columns:
        text = raw.questions.get(col, "") or (col if raw.export_format == "surveymonkey" else "")
        if col in taken or not _SCORE_QUESTION.search(text):
            continue
        if _scorable_share(raw.frame[col], raw.decimal_comma) >= 0.5:
            return str(col)
    return None


# ======================================================================================
# Cell conversion
# ======================================================================================
def _text(series: pd.Series) -> pd.Series:
    """Stripped strings, "" for empty (typed input is rendered as a CSV would hold it)."""
    if pd.api.types.is_string_dtype(series) and not isinstance(series.dtype, np.dtype) and not series.isna().any():
        return series.str.strip()
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.map(lambda v: v.strip() if isinstance(v, str) else _cell_text(v).strip()).astype(object)
    return series.map(lambda v: _cell_text(v).strip()).astype(object)


def _number(text: str, decimal_comma: bool) -> float | None:
    if _NUMBER.match(text):
        return float(text)
    if decimal_comma and _COMMA_NUMBER.match(text):
        return float(text.replace(",", "."))
    return None


def _to_float(text: pd.Series) -> np.ndarray:
    """Floats of strings already known to be numbers: Arrow's vectorised cast (pandas'
    to_numeric loops in Python over Arrow-backed strings), to_numeric where Arrow refuses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(pa.array(text, type=pa.string()), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")


def _numbers(text: pd.Series, decimal_comma: bool) -> tuple[pd.Series, bool]:
    """Float value of each cell (NaN where not a plain, finite number) and whether a decimal comma was read."""
    plain = text.str.match(_NUMBER.pattern)
    values = pd.Series(np.nan, index=text.index, dtype="float64")
    if plain.any():
        values[plain] = _to_float(text[plain])
    used_comma = False
    if decimal_comma:
        comma = text.str.match(_COMMA_NUMBER.pattern) & ~plain
        if comma.any():
            values[comma] = _to_float(text[comma].str.replace(",", ".", regex=False))
            used_comma = True
    # a literal that overflows (1e400) is no usable number: it is read as any other stray text,
    # as "inf" already is (an infinite covariate or duration has no mean, no level to print)
    return values.where(np.isfinite(values)), used_comma


@dataclass(frozen=True)
class _Scores:
    values: np.ndarray            # float, NaN unless status == _OK
    status: np.ndarray            # _MISSING / _OK / _NOT_SCORE / _UNANSWERED per cell
    label_scale: tuple[int, int] | None
    notes: tuple[str, ...]
    used_comma: bool


def _label_table(keys: set[str], bare_numbers: list[float], hint_text: str) -> tuple[dict[str, int], str]:
    """Which label scheme a column uses: binary (Zendesk), quality, 0-10 endpoints or bipolar 5-point."""
    if keys and keys <= (set(_BINARY) | _NOT_ANSWERED):
        return dict(_BINARY), "binary"
    if "excellent" in keys:
        return dict(_QUALITY_EXCELLENT), "five"
    if "very poor" in keys:
        return dict(_QUALITY_VERY_POOR), "five"
    if keys & {"good", "fair", "poor", "very good"} and not keys & set(_FIVE_POINT):
        return dict(_QUALITY_EXCELLENT), "five"
    zero_ten = ("not at all likely" in keys or any(v > 5 for v in bare_numbers)
                or (keys <= set(_ZERO_TEN_ENDPOINTS) and _zero_ten_hint(hint_text)))
    if zero_ten:
        return {**_FIVE_POINT, **_ZERO_TEN_ENDPOINTS}, "zero_ten"
    return dict(_FIVE_POINT), "five"


def _score_cells(series: pd.Series, *, hint_text: str, decimal_comma: bool) -> _Scores:
    """Numeric value of each score cell: a number, an answer label, or a label with a leading number."""
    text = _text(series)
    uniques = [u for u in pd.unique(text) if u != ""]
    numeric: dict[str, float] = {}
    lead_texts: list[tuple[float, str]] = []
    words: dict[str, str] = {}            # original text -> label key
    used_comma = False
    for u in uniques:
        v = _number(u, decimal_comma)
        if v is not None:
            numeric[u] = v
            used_comma |= not _NUMBER.match(u)
            continue
        m = _LEADING_NUMBER.match(u)
        if m and _number(m.group(1), True) is not None:
            numeric[u] = _number(m.group(1), True)   # type: ignore[assignment]
            lead_texts.append((numeric[u], _label_key(m.group(2))))
            continue
        m = _TRAILING_NUMBER.match(u)
        if m and _number(m.group(2), True) is not None:
            numeric[u] = _number(m.group(2), True)   # type: ignore[assignment]
            lead_texts.append((numeric[u], _label_key(m.group(1))))
            continue
        words[u] = _label_key(u)
    bare = [v for u, v in numeric.items() if _number(u, decimal_comma) is not None]
    table, mode = _label_table(set(words.values()), bare, hint_text)
    mapped: dict[str, float] = {}
    unanswered: set[str] = set()
    for original, key in words.items():
        if mode == "binary" and key in _NOT_ANSWERED:
            unanswered.add(original)
        elif key in table:
            mapped[original] = float(table[key])
    notes: list[str] = []
    label_scale: tuple[int, int] | None = None
    if mapped:
        label_scale = {"binary": (0, 1), "zero_ten": (0, 10)}.get(mode, (1, 5))
        shown = sorted(mapped.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"'{k}'→{v:g}" for k, v in shown[:12])
        notes.append(f"labels mapped: {listed}{', ...' if len(shown) > 12 else ''}")
    elif lead_texts:
        if any(key in _ZERO_TEN_ENDPOINTS and _ZERO_TEN_ENDPOINTS[key] == v for v, key in lead_texts):
            label_scale = (0, 10)
        elif any(key in _FIVE_POINT and _FIVE_POINT[key] == v for v, key in lead_texts):
            label_scale = (1, 5)
    if lead_texts:
        example = next(u for u in uniques if u in numeric and _number(u, decimal_comma) is None)
        notes.append(f"leading numbers read from labels such as '{example}'")
    lookup_value = {**numeric, **mapped}
    values = text.map(lookup_value).astype("float64").to_numpy()
    status = np.full(len(text), _NOT_SCORE, dtype=np.int8)
    arr = text.to_numpy()
    status[arr == ""] = _MISSING
    status[~np.isnan(values)] = _OK
    if unanswered:
        status[np.isin(arr, list(unanswered))] = _UNANSWERED
    return _Scores(values=values, status=status, label_scale=label_scale, notes=tuple(notes),
                   used_comma=used_comma)


def _decide_scale(scores: _Scores, *, declared: tuple[float, float] | None, header: str, question: str,
                  file: str | None) -> tuple[tuple[int, int], str, bool]:
    """(scale, note, inferred_from_data): declared > labels > header hint > data."""
    if declared is not None:
        try:
            lo, hi = (float(declared[0]), float(declared[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise InputError(f"invalid rating scale {declared!r}", file=file, column=header or None,
                             expected="two numbers (low, high), e.g. (1, 5)") from exc
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"invalid rating scale {declared!r}", file=file, column=header or None,
                             expected="low < high, e.g. (1, 5)")
        scale = (int(lo) if lo.is_integer() else lo, int(hi) if hi.is_integer() else hi)
        return scale, f"scale {_fmt_scale(scale)} declared", False   # type: ignore[return-value]
    if scores.label_scale is not None:
        return scores.label_scale, f"scale {_fmt_scale(scores.label_scale)} inferred from the answer labels", False
    if _zero_ten_hint(header):
        return (0, 10), f"scale 0-10 inferred from header '{header}'", False
    if question and _zero_ten_hint(question):
        return (0, 10), f"scale 0-10 inferred from the question text '{question[:80]}'", False
    ok = scores.values[scores.status == _OK]
    whole = ok[np.isfinite(ok) & (ok == np.round(ok))]
    if whole.size == 0:
        raise InputError("the rating scale cannot be inferred: no score is a whole number", file=file,
                         column=header or None, expected="a declared scale, e.g. (1, 5)")
    if set(np.unique(whole)) <= {0.0, 1.0}:
        return (0, 1), "scale 0-1 inferred from the data (only 0 and 1 occur)", True
    candidates = [(0, 10)] if (whole == 0).any() else [(1, 5), (1, 7), (1, 10)]
    for lo, hi in candidates:
        share = float(((whole >= lo) & (whole <= hi)).mean())
        if share >= SCALE_COVERAGE:
            return (lo, hi), (f"scale {lo}-{hi} inferred from the data ({share:.1%} of whole-number "
                              f"scores on it{'; 0 occurs' if lo == 0 else ''})"), True
    seen = f"{whole.min():g} to {whole.max():g}"
    raise InputError(f"the rating scale cannot be inferred: scores run from {seen}", file=file,
                     column=header or None, expected="1-5, 1-7, 0-10 or 1-10, or a declared scale")


def infer_scale(values: pd.Series, *, header: str = "") -> tuple[int, int]:
    """On which rating scale are these scores?

    Order of evidence: answer labels ("Very satisfied" -> 1-5, "Extremely likely"/"Not at
    all likely" with numbers -> 0-10, Good/Bad -> 0-1) > a header that names the
    likelihood-to-recommend question ("NPS", "recommend", "likely" -> 0-10; Reichheld
    2003) > the data: the narrowest of 1-5, 1-7, 1-10 holding at least 99 % of the
    whole-number scores, or 0-10 when 0 occurs (0-1 when only 0 and 1 occur). Values off
    the scale (e.g. 99 "don't know" codes) are the loader's to drop. Raises `InputError`
    when no candidate fits. Units: scale points.
    """
    scores = _score_cells(pd.Series(values), hint_text=header, decimal_comma=True)
    scale, _, _ = _decide_scale(scores, declared=None, header=header, question="", file=None)
    return scale


_ISO = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
                  r"(?:[T ]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
                  r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$", re.I)
_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
                  r"(?:[T ,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
                  r"\s*(?P<ampm>[AP]\.?M\.?)?)?\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$", re.I)
_MONTH_NAME = re.compile(r"[A-Za-z]{3}")


def _tz_minutes(tz: pd.Series) -> pd.Series:
    tz = tz.fillna("").str.upper()
    out = pd.Series(0.0, index=tz.index)
    numeric = tz.str.match(r"^[+-]")
    if numeric.any():
        digits = tz[numeric].str.replace(":", "", regex=False)
        sign = np.where(digits.str[0] == "-", -1.0, 1.0)
        hours = pd.to_numeric(digits.str[1:3])
        minutes = pd.to_numeric(digits.str[3:5].replace("", "0"))
        out[numeric] = sign * (hours * 60 + minutes)
    return out


def _assemble(year: pd.Series, month: pd.Series, day: pd.Series, parts: pd.DataFrame,
              ampm: pd.Series | None) -> pd.Series:
    """UTC timestamps from components; impossible dates (31 June, hour 25) become NaT."""
    hour = pd.to_numeric(parts["H"]).fillna(0)
    if ampm is not None:
        a = ampm.fillna("").str.upper().str.replace(".", "", regex=False)
        hour = hour.where(~((a == "PM") & (hour < 12)), hour + 12)
        hour = hour.where(~((a == "AM") & (hour == 12)), 0)
    frac = parts["f"].fillna("").str.ljust(6, "0").str[:6].replace("", "0")
    minute = pd.to_numeric(parts["M"]).fillna(0)
    second = pd.to_numeric(parts["S"]).fillna(0)
    comp = np.column_stack([np.asarray(v, dtype="float64") for v in
                            (year, month, day, hour, minute, second, pd.to_numeric(frac))])
    y, mo, d, hh, mi, ss, us = comp.T
    # outside 1678-2261 a nanosecond timestamp overflows; such years are sentinels, not dates
    valid = (np.isfinite(comp).all(axis=1) & (y >= 1678) & (y <= 2261) & (mo >= 1) & (mo <= 12)
             & (d >= 1) & (d <= 31) & (hh <= 23) & (mi <= 59) & (ss <= 59))
    ns = np.full(len(comp), np.datetime64("NaT"), dtype="datetime64[ns]")
    if valid.any():
        v = valid
        months = ((y[v] - 1970) * 12 + (mo[v] - 1)).astype("int64").astype("datetime64[M]")
        days = months.astype("datetime64[D]") + (d[v] - 1).astype("int64")
        real = days.astype("datetime64[M]") == months          # 31 June rolls into July: not a date
        clock = ((hh[v] * 3600 + mi[v] * 60 + ss[v]) * 1_000_000 + us[v]).astype("int64")
        built = days.astype("datetime64[ns]") + clock.astype("timedelta64[us]").astype("timedelta64[ns]")
        built[~real] = np.datetime64("NaT")
        ns[v] = built
    stamps = pd.Series(ns, index=year.index)
    offset = pd.to_timedelta(_tz_minutes(parts["tz"]), unit="min")
    return (stamps - offset).dt.tz_localize("UTC")


# Machine-written ISO 8601 (what most exports hold): parsed by pandas' C parser, which for
# these strings agrees with `_parse_times_general` (tests/test_loading.py) at a tenth of its cost.
_STRICT_ISO = (r"^(?:1[7-9]\d\d|2[01]\d\d|22[0-5]\d)-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?"
               r"(?:Z|[+-]\d\d:?\d\d)?$")
_ISO_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
_NO_OFFSET_NOTE = "{column}: times without a time-zone offset taken as UTC"


def _parse_times(series: pd.Series, column: str) -> tuple[pd.Series, np.ndarray, list[str]]:
    """UTC timestamps, a mask of non-empty cells that could not be read, and what was decided.

    ISO 8601 and "YYYY/MM/DD"; "DD/MM/YYYY" vs "MM/DD/YYYY" (also with '.' and '-', 2-digit
    years, 12-hour clocks) is chosen per column: the order that no value contradicts (a
    first or second number above 12), else day-first for '.' and '-', month-first for '/'.
    Offsets (Z, +02:00, -0500) are applied; times without one are taken as UTC.
    """
    text = _text(series).astype("str")
    filled = text != ""
    if filled.any() and text[filled].str.match(_STRICT_ISO).all():
        present = text.where(filled)
        out = _iso_times_by_arrow(present)
        if out is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(present, format="ISO8601", utc=True, errors="coerce")
            out = parsed.astype("datetime64[ns, UTC]")
        notes = [] if text[filled].str.contains(_ISO_OFFSET).all() else [_NO_OFFSET_NOTE.format(column=column)]
        return out, (filled & out.isna()).to_numpy(), notes
    return _parse_times_general(text, column)


def _iso_times_by_arrow(text: pd.Series) -> pd.Series | None:
    """ISO 8601 times with offsets read by Arrow's cast (0.02 s against pandas' 1.2 s for a
    million), or None when Arrow refuses any value: an impossible date or time (30 February,
    24:00, a leap second) or a time without an offset, which pandas then reads value by value.
    Arrow gives pandas' instants wherever it accepts; the years `_STRICT_ISO` lets through
    (1700-2259) are within the nanosecond range, past which Arrow's cast would wrap around."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        read = pc.cast(pa.array(text, from_pandas=True), pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(read.to_pandas().array, index=text.index).astype("datetime64[ns, UTC]")


def _parse_times_general(text: pd.Series, column: str) -> tuple[pd.Series, np.ndarray, list[str]]:
    """`_parse_times` for every supported format (``text``: stripped strings)."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    notes: list[str] = []
    iso = text.str.extract(_ISO)
    is_iso = iso["y"].notna()
    if is_iso.any():
        p = iso[is_iso]
        out[is_iso] = _assemble(pd.to_numeric(p["y"]), pd.to_numeric(p["m"]), pd.to_numeric(p["d"]), p, None)
    dmy = text.str.extract(_DMY)
    is_dmy = dmy["a"].notna() & ~is_iso
    if is_dmy.any():
        p = dmy[is_dmy]
        a, b = pd.to_numeric(p["a"]), pd.to_numeric(p["b"])
        year = pd.to_numeric(p["y"])
        year = year.where(p["y"].str.len() == 4, np.where(year < 70, 2000 + year, 1900 + year))
        a_big, b_big = bool((a > 12).any()), bool((b > 12).any())
        seps = p["sep"].value_counts()
        usual_day_first = seps.index[0] != "/"
        if a_big and not b_big:
            day_first, why = True, "a first number above 12 occurs"
        elif b_big and not a_big:
            day_first, why = False, "a second number above 12 occurs"
        elif a_big and b_big:
            day_first = int((a > 12).sum()) >= int((b > 12).sum())
            why = "both orders occur; the other order's dates are flagged unparseable"
            day_first_fit = ~((b > 12) if day_first else (a > 12))
            a, b = a.where(day_first_fit), b.where(day_first_fit)
        else:
            day_first = usual_day_first
            why = (f"no number above 12 decides it; the usual reading of "
                   f"{'dd' + seps.index[0] + 'mm' if day_first else 'mm/dd'}")
        day, month = (a, b) if day_first else (b, a)
        out[is_dmy] = _assemble(year, month, day, p, p["ampm"])
        notes.append(f"{column}: dates read {'day-first (DD/MM/YYYY)' if day_first else 'month-first (MM/DD/YYYY)'}"
                     f" - {why}")
    else:
        day_first = False
    # month names ("Jul 1, 2024 1:05 PM") go to dateutil, but only with a 4-digit year: it would
    # otherwise invent the current year
    rest = ((text != "") & ~is_iso & ~is_dmy & text.str.contains(_MONTH_NAME.pattern, regex=True)
            & text.str.contains(r"\d{4}", regex=True))
    if rest.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text[rest], format="mixed", errors="coerce", utc=True, dayfirst=day_first)
        parsed = parsed.where(parsed.dt.year.between(1678, 2261))
        out[rest] = parsed.astype("datetime64[ns, UTC]")
    tz = pd.concat([iso["tz"][is_iso], dmy["tz"][is_dmy]])
    if tz.isna().any():
        notes.append(_NO_OFFSET_NOTE.format(column=column))
    bad = ((text != "") & out.isna()).to_numpy()
    return out, bad, notes


def _parse_duration(series: pd.Series, decimal_comma: bool) -> tuple[pd.Series, np.ndarray, np.ndarray, bool]:
    """Seconds as float from numbers or clock times (h:mm:ss, m:ss); masks of negative and unreadable cells."""
    text = _text(series).astype("str")
    values, used_comma = _numbers(text, decimal_comma)
    c = text[values.isna() & (text != "")].str.extract(_CLOCK).dropna(subset=[1])
    if len(c):
        values.loc[c.index] = (pd.to_numeric(c[0]).fillna(0) * 3600 + pd.to_numeric(c[1]) * 60
                               + pd.to_numeric(c[2])).astype("float64")
    negative = (values < 0).to_numpy()
    unreadable = ((text != "") & values.isna()).to_numpy()
    values[negative] = np.nan
    return values, negative, unreadable, used_comma


def _ids(series: pd.Series) -> pd.Series:
    return _text(series).replace("", pd.NA).astype("string")


@dataclass(frozen=True)
class _Column:
    values: pd.Series
    notes: tuple[str, ...] = ()
    used_comma: bool = False
    unreadable: np.ndarray | None = None     # q_* items: cells that are neither a number nor a label


def _other_column(series: pd.Series, header: str, decimal_comma: bool) -> _Column:
    """Float when every non-empty cell is a number, else text.

    ``q_*`` item columns are answers on a rating scale: numbers or answer labels. When most
    of their answers read that way, the rest (e.g. "N/A") become NaN and are flagged, so that
    one stray cell does not turn a whole item into text.
    """
    text = _text(series).astype("str")
    filled = text != ""
    # labels (channel, region...): their first filled cell is no number, which settles it
    # without matching every cell against the number pattern
    if filled.any() and (header.lower().startswith("q_")
                         or _number(text.iat[int(np.argmax(filled.to_numpy()))], decimal_comma) is not None):
        values, used_comma = _numbers(text, decimal_comma)
        if values[filled].notna().all():
            return _Column(values, used_comma=used_comma)
        if header.lower().startswith("q_"):
            scores = _score_cells(text, hint_text=header, decimal_comma=decimal_comma)
            readable = scores.status == _OK
            if readable.sum() >= 0.5 * filled.sum():
                return _Column(pd.Series(scores.values, index=text.index, dtype="float64"),
                               tuple(f"{header}: {n}" for n in scores.notes), scores.used_comma,
                               filled.to_numpy() & ~readable)
    return _Column(text.replace("", pd.NA).astype("string"))


def _compact_answers(values: pd.Series) -> pd.Series:
    """Item answers as float32 when every one is a whole number no larger than 2^24 in size,
    which float32 holds exactly (and prints alike): half the memory, 40 MB for a million
    responses × 10 items. Anything else stays as it is."""
    if values.dtype != np.float64:
        return values
    x = values.to_numpy()
    answered = x[~np.isnan(x)]
    if (np.abs(answered) <= 2**24).all() and (answered == np.round(answered)).all():
        return values.astype(np.float32)
    return values


def _compact_labels(values: pd.Series) -> pd.Series:
    """Text with few distinct labels (segments: channel, region, tier...) as a categorical
    (sorted categories, as `astype("category")`): one byte a row instead of ~14, ~80 MB for
    a million responses × six segments. Anything else stays as it is."""
    if not pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        return values
    if values.nunique() > MAX_LABEL_LEVELS:
        return values
    return values.astype("category")


def _other_columns(src: pd.DataFrame, mapped: set[str], decimal_comma: bool, keep: np.ndarray,
                   notes: list[str], flag_masks: list[tuple[str, np.ndarray]]) -> tuple[dict[str, pd.Series], bool]:
    """Every column not mapped to a canonical field, converted; notes and flags appended in place."""
    others: dict[str, pd.Series] = {}
    used_comma = False
    for header in src.columns:
        if header in mapped:
            continue
        column = _other_column(src[header], str(header), decimal_comma)
        others[str(header)] = (_compact_answers(column.values) if str(header).lower().startswith("q_")
                               else column.values)
        notes.extend(column.notes)
        used_comma |= column.used_comma
        if column.unreadable is not None:
            flag_masks.append((f"{header} not a number/label", column.unreadable & keep))
    return others, used_comma


# ======================================================================================
# Loading
# ======================================================================================
def _notes_for(masks: list[tuple[str, np.ndarray]], rows: np.ndarray) -> tuple[RowNote, ...]:
    out = []
    for reason, mask in masks:
        n = int(mask.sum())
        if n:
            out.append(RowNote(reason=reason, count=n, rows=_first_rows(rows[mask])))
    return tuple(out)


def _unmapped_name(header: str, reserved: set[str], taken: set[str]) -> str:
    if header not in reserved:
        return header
    new = f"{header} (unmapped)"
    while new in taken:
        new += "_"
    return new


def _assemble_frame(raw: _Raw, mapping: dict[str, str], fields: tuple[str, ...],
                    canonical: dict[str, pd.Series], others: dict[str, pd.Series],
                    keep: np.ndarray, notes: list[str]) -> pd.DataFrame:
    """`_source_row`, canonical fields in their fixed order, then the other columns in file order."""
    columns: dict[str, Any] = {SOURCE_ROW: pd.Series(raw.frame.index.to_numpy(dtype="int64"),
                                                     index=raw.frame.index)}
    for fld in fields:
        if fld in canonical:
            columns[fld] = canonical[fld]
    reserved = set(fields) | {SOURCE_ROW}
    for header, series in others.items():
        new = _unmapped_name(header, reserved, set(columns) | set(others))
        if new != header:
            source = f"'{mapping[header]}'" if header in mapping else "the loader"
            notes.append(f"column '{header}' kept as '{new}': the canonical {header} comes from {source}")
        columns[new] = series
    # no copies of a million-row frame beyond the one that drops rows, and that only when some
    # are dropped: they made the loader's peak (0.28 GB each at 1.06M responses)
    frame = pd.DataFrame(columns, index=raw.frame.index, copy=False)
    return (frame if keep.all() else frame.loc[keep]).reset_index(drop=True)


def _with_file(exc: InputError, name: str) -> InputError:
    return InputError(exc.message, file=name, row=exc.row, column=exc.column, expected=exc.expected)


def _missing_field_error(raw: _Raw, fld: str, kind: str) -> InputError:
    headers = [str(c) for c in raw.frame.columns]
    listed = ", ".join(repr(h) for h in headers[:40]) + (", ..." if len(headers) > 40 else "")
    if fld == "score":
        likely = next((h for h in headers if _looks_like_scores(raw.frame[h], raw.decimal_comma)), headers[0])
        return InputError(f"no score column found among the headers {listed}", file=raw.name,
                          expected=f'a mapping such as {{"score": "{likely}"}}')
    return InputError(f"no {fld} column found in the {kind} file among the headers {listed}", file=raw.name,
                      expected=f'a mapping such as {{"{fld}": "{headers[0]}"}}')


def load_responses(source: Any, *, mapping: Mapping[str, str] | None = None,
                   scale: tuple[int, int] | None = None, name: str | None = None,
                   limits: Limits = Limits()) -> LoadedTable:
    """Load the responses table: one row per survey response, with a usable score.

    Answers: which responses can the audit use, on which scale, and why was each other
    row set aside? Rows are dropped only when the score is missing, not a number or
    answer label, "offered, not answered" (Zendesk), off the scale, or (on an inferred
    scale) between two scale points; every other problem (unreadable dates, negative or
    non-numeric durations) is flagged and the row kept. Duplicated responses are kept:
    `duplicate_responses` reports them. Scores are float64 in scale points. A file over
    `limits` (`audit.limits`) raises `InputError`.
    """
    raw = _read_within(source, name, limits)
    chosen, notes = _resolve_mapping(raw, "responses", mapping)
    notes = list(raw.notes) + notes
    if "score" not in chosen:
        raise _missing_field_error(raw, "score", "responses")
    src = raw.frame
    rows = src.index.to_numpy(dtype="int64")
    score_header = chosen["score"]
    question = raw.questions.get(score_header, "")
    scores = _score_cells(src[score_header], hint_text=f"{score_header} {question}", decimal_comma=raw.decimal_comma)
    if not (scores.status == _OK).any():
        raise InputError(f"no row has a valid score ({_plural(len(rows), 'row')} read)", file=raw.name,
                         column=score_header, expected="numbers on the rating scale or answer labels")
    try:
        scale_used, scale_note, from_data = _decide_scale(scores, declared=scale, header=score_header,
                                                          question=question, file=raw.name)
    except InputError as exc:
        raise _with_file(exc, raw.name) from None
    notes.extend(scores.notes)
    notes.append(scale_note)
    lo, hi = scale_used
    values = scores.values
    ok = scores.status == _OK
    with np.errstate(invalid="ignore"):
        outside = ok & ((values < lo) | (values > hi))
        between = ok & ~outside & from_data & (values != np.round(values))
    used_comma = scores.used_comma
    dropped = _notes_for([
        ("score missing", scores.status == _MISSING),
        ("score not a number/label", scores.status == _NOT_SCORE),
        ("survey offered, not answered", scores.status == _UNANSWERED),
        (f"score outside the {_fmt_scale(scale_used)} scale", outside),
        (f"score not a whole point of the inferred {_fmt_scale(scale_used)} scale", between),
    ], rows)
    keep = ok & ~outside & ~between

    canonical: dict[str, pd.Series] = {"score": pd.Series(values, index=src.index, dtype="float64")}
    flag_masks: list[tuple[str, np.ndarray]] = []
    for fld in ID_FIELDS:
        if fld in chosen:
            canonical[fld] = _ids(src[chosen[fld]])
    for fld in TIME_FIELDS:
        if fld in chosen:
            stamps, bad, time_notes = _parse_times(src[chosen[fld]], fld)
            canonical[fld] = stamps
            notes.extend(time_notes)
            flag_masks.append((f"{fld} unparseable", bad & keep))
    if "duration_s" in chosen:
        secs, negative, unreadable, comma = _parse_duration(src[chosen["duration_s"]], raw.decimal_comma)
        canonical["duration_s"] = secs
        used_comma |= comma
        flag_masks.append(("duration_s negative", negative & keep))
        flag_masks.append(("duration_s not a number", unreadable & keep))
    others, comma = _other_columns(src, set(chosen.values()), raw.decimal_comma, keep, notes, flag_masks)
    # held for the whole audit (a population table is aggregated in the engine instead)
    others = {header: _compact_labels(values) for header, values in others.items()}
    if used_comma or comma:
        notes.append("decimal commas read as decimal points (e.g. '4,5' = 4.5)")
    frame = _assemble_frame(raw, chosen, RESPONSE_FIELDS, canonical, others, keep, notes)
    return LoadedTable(frame=frame, name=raw.name, sha256=raw.sha256, rows_read=len(rows),
                       mapping={f: chosen[f] for f in RESPONSE_FIELDS if f in chosen},
                       export_format=raw.export_format, dropped=dropped,
                       flagged=_notes_for(flag_masks, rows), scale=scale_used, notes=tuple(notes))


def _flags(series: pd.Series, header: str, rows: np.ndarray, keep: np.ndarray, file: str) -> pd.Series:
    """0/1 from 1/0, yes/no, true/false, y/n; anything else on a kept row is an InputError naming it."""
    text = _text(series).str.lower()
    is_true, is_false = text.isin(_TRUE).to_numpy(), text.isin(_FALSE).to_numpy()
    bad = keep & ~is_true & ~is_false
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = text.iloc[i]
        raise InputError(f"'{series.iloc[i]}' is not a yes/no value" if value else "the yes/no value is empty",
                         file=file, row=int(rows[i]), column=header,
                         expected="1/0, yes/no, true/false or y/n")
    return pd.Series(is_true.astype("int8"), index=series.index, dtype="int8")


def load_population(source: Any, *, mapping: Mapping[str, str] | None = None,
                    name: str | None = None, limits: Limits = Limits()) -> LoadedTable:
    """Load the population table: one row per interaction in scope (the frame of the survey).

    Answers: which interactions could have been surveyed, and which were invited and
    answered? Rows are dropped only when the interaction id is missing or repeats an
    earlier row (the first is kept). ``invited``/``responded`` become int8 0/1. A file over
    `limits` (`audit.limits`) raises `InputError`.
    """
    raw = _read_within(source, name, limits)
    chosen, notes = _resolve_mapping(raw, "population", mapping)
    notes = list(raw.notes) + notes
    if "interaction_id" not in chosen:
        raise _missing_field_error(raw, "interaction_id", "population")
    src = raw.frame
    rows = src.index.to_numpy(dtype="int64")
    ids = _ids(src[chosen["interaction_id"]])
    missing = ids.isna().to_numpy()
    duplicate = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    keep = ~missing & ~duplicate
    dropped = _notes_for([("interaction_id missing", missing),
                          ("duplicate interaction_id (first kept)", duplicate)], rows)
    canonical: dict[str, pd.Series] = {"interaction_id": ids}
    if "agent_id" in chosen:
        canonical["agent_id"] = _ids(src[chosen["agent_id"]])
    for fld in ("invited", "responded"):
        if fld in chosen:
            canonical[fld] = _flags(src[chosen[fld]], chosen[fld], rows, keep, raw.name)
    flag_masks: list[tuple[str, np.ndarray]] = []
    others, used_comma = _other_columns(src, set(chosen.values()), raw.decimal_comma, keep, notes, flag_masks)
    if used_comma:
        notes.append("decimal commas read as decimal points (e.g. '4,5' = 4.5)")
    frame = _assemble_frame(raw, chosen, POPULATION_FIELDS, canonical, others, keep, notes)
    return LoadedTable(frame=frame, name=raw.name, sha256=raw.sha256, rows_read=len(rows),
                       mapping={f: chosen[f] for f in POPULATION_FIELDS if f in chosen},
                       export_format=raw.export_format, dropped=dropped,
                       flagged=_notes_for(flag_masks, rows), scale=None,
                       notes=tuple(notes))
