"""Personal data in survey exports: which columns hold e-mail addresses, phone numbers or
person names, and how the exports hide them.

Questions answered:

* which columns of the uploaded tables hold personal data, of what kind, in how many
  cells? -> `scan_column`, `scan_audit_data` (a `PiiScan`)
* what does a text, a report dict or a table of rows look like with that data hashed or
  redacted? -> `Redactor`

Detection (deliberately simple, so that a reader can predict it):

* **e-mail**: `local@domain.tld` (`EMAIL`).
* **phone**: international numbers written with "+" (E.164, 8-15 digits, spaces, dashes
  or brackets between them: "+44 20 7946 0958"), North American numbers
  ("(202) 555-0143", "202-555-0143", "202.555.0143", "202 555 0143") and national numbers
  with a trunk 0 and separators ("020 7946 0958", "07700 900123", "06 12 34 56 78"), 9-11
  digits (`PHONE`). A bare run of digits is not taken for a phone number: ids, amounts
  and timestamps look the same.
* **person name**: a column whose header names a person's name ("Name", "Customer name",
  "first_name", "Surname", "Agent Name", ...; not "Product name", "Team name", see
  `name_header`), or whose values are mostly "Firstname Lastname": `NAME_VALUE_SHARE` of its
  distinct values are two or three capitalised words, and there are more of them than a
  segment may have levels (`MAX_SEGMENT_LEVELS`), so that a segment of places ("New York",
  "North East") is not taken for names. Names inside free text are not detected.

Treatment in the exports (report.json, findings.csv, report.html, the PDF and the rows
downloaded from the app), unless the user keeps the data (`keep_pii`):

* an **identifier column** (a name column, or one where at least half the cells are a
  whole e-mail address or phone number) has every value replaced by a keyed hash,
  "email-3f9a1c2b7d10", "phone-...", "name-...": the same value always gets the same token,
  so duplicates and per-agent results can still be matched;
* e-mail addresses and phone numbers **inside text** (comments, and any text of the report)
  become "[email]" / "[phone]" (or the value's token where the value is a hashed identifier).

The hash key. The report must be byte-identical for the same inputs, so the key cannot be
random; a constant key would let anyone holding the report confirm a guessed address by
hashing it. The key is SHA-256 of `SALT`, every cell of the personal-data columns and every
score of the responses, in file order: whoever can compute it already holds every value
it protects, and the report alone (which carries neither) cannot.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from audit.aggregates import MISSING
from audit.data import MAX_SEGMENT_LEVELS, AuditData

Kind = Literal["email", "phone", "name"]
KINDS: tuple[str, ...] = ("email", "phone", "name")
PLACEHOLDER = {"email": "[email]", "phone": "[phone]"}
SALT = b"survey-auditor/pii/v1"
TOKEN_HEX = 12                     # 48 bits: a collision among 100,000 distinct values has odds ~2e-5
IDENTIFIER_SHARE = 0.5             # share of cells that are a whole e-mail / phone: an identifier column
NAME_VALUE_SHARE = 0.8             # share of distinct values that look like "Firstname Lastname"
MAX_NAME_WORDS = 6                 # longest identifier value (in words) looked for inside text

EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}(?![\w@-])")
PHONE = re.compile(
    r"(?<![\w+/.-])(?:"
    r"\+\d[\d ()/-]{6,22}\d"                                           # international, +CC ...
    r"|(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}"                      # North American
    r"|0\d{1,4}(?:[ .-]\d{2,8}){1,4}"                                  # national, trunk 0
    r")(?![\w/-]|\.\d)")
_PHONE_DIGITS = {"+": (8, 15), "0": (9, 11)}        # digits allowed by the number's first character
_NAME_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*")
_HEADER_WORDS = re.compile(r"[a-z]+")
_NAME_WORDS = {"name", "names", "fullname", "firstname", "lastname", "surname", "forename", "givenname",
               "familyname", "middlename", "displayname"}
# words that may qualify "name" and still mean a person's name ("Customer Name", "Agent name")
_PERSON_WORDS = {"customer", "client", "caller", "contact", "respondent", "user", "agent", "rep",
                 "representative", "advisor", "adviser", "employee", "assignee", "requester", "submitter",
                 "full", "first", "last", "given", "family", "middle", "display", "person", "member", "owner",
                 "your", "sur", "fore", "of", "the", "s"}
_WORD_SPAN = re.compile(r"\w+")


def _is_phone(text: str) -> bool:
    low, high = _PHONE_DIGITS.get(text[0], (10, 10))
    return low <= sum(c.isdigit() for c in text) <= high


def _may_be_phone(text: str) -> bool:
    """Does `text` have the 8 digits a phone number needs? (Most texts are too short to.)"""
    return len(text) >= _PHONE_DIGITS["+"][0] and sum(map(str.isdigit, text)) >= _PHONE_DIGITS["+"][0]


# without one of these (in a regular-expression class) no text can match `PHONE`
_PHONE_SEPARATORS = "+ .()-"


def _may_hold(values: pd.Index, kind: str) -> np.ndarray:
    """Which values can contain an e-mail address ("@") or a phone number (8+ digits and a
    "+", space, dash, dot or bracket, without which `PHONE` cannot match)? A vectorised
    sieve: ids, codes and numbers skip the regular expressions."""
    if kind == "email":
        return np.asarray(values.str.contains("@", regex=False), dtype=bool)
    may = np.asarray(values.str.contains(f"[{_PHONE_SEPARATORS}]"), dtype=bool)
    # digits are counted only where a separator is: ids and codes have none, and counting is the cost
    may[may] = np.asarray(values[may].str.count(r"\d") >= _PHONE_DIGITS["+"][0], dtype=bool)
    return may


def find_phones(text: str) -> list[re.Match[str]]:
    """The phone numbers in `text` (see the module docstring for the formats)."""
    return [m for m in PHONE.finditer(text) if _is_phone(m.group())]


def is_email(text: str) -> bool:
    return EMAIL.fullmatch(text.strip()) is not None


def is_phone(text: str) -> bool:
    text = text.strip()
    m = PHONE.fullmatch(text)
    return m is not None and _is_phone(text)


def looks_like_name(text: str) -> bool:
    """Two or three capitalised words of letters ("Jane Smith", "Mary-Ann O'Neil", "José García")."""
    words = text.split()
    return 2 <= len(words) <= 3 and all(
        _NAME_WORD.fullmatch(w) and w[0].isupper() and not w.isupper() for w in words)


def name_header(header: str) -> bool:
    """Does a column header name a person's name? "Name", "customer_name", "FirstName",
    "Agent Name", "surname" do; "Product name", "team_name", "file name" do not."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(header)).lower()
    words = _HEADER_WORDS.findall(spaced)
    joined = "".join(words)
    if not words or not (_NAME_WORDS & set(words) or joined in _NAME_WORDS):
        return False
    return all(w in _NAME_WORDS or w in _PERSON_WORDS for w in words) or joined in _NAME_WORDS


@dataclass(frozen=True)
class PiiColumn:
    """One column holding one kind of personal data."""

    table: str                  # "responses" or "population"
    column: str                 # as in the loaded table (canonical name or the file's header)
    header: str                 # as in the file
    kind: Kind
    identifier: bool            # whole values are hashed (True) or found inside text and replaced
    cells: int                  # cells holding this kind of data

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "column": self.column, "header": self.header, "kind": self.kind,
                "treatment": "hashed" if self.identifier else "replaced in text", "cells": self.cells}


def scan_column(counts: pd.Series, header: str, *, table: str, column: str) -> tuple[PiiColumn, ...]:
    """Which kinds of personal data one column holds, from its distinct values as text
    (`counts`: value -> number of cells holding it)."""
    # a mask, not a Series: aligning a Series key builds the index's hash table, a Python
    # string per distinct value (60 MB for a million ids)
    counts = counts[(counts > 0).to_numpy()]
    if counts.empty:
        return ()
    values = counts.index.astype(str)
    total = int(counts.sum())
    found: list[PiiColumn] = []
    for kind, whole, inside in (("email", is_email, lambda v: EMAIL.search(v) is not None),
                                ("phone", is_phone, lambda v: bool(find_phones(v)))):
        sieved = counts[_may_hold(values, kind)]
        candidates = sieved.index.astype(str)
        full = int(sieved[[whole(v) for v in candidates]].sum())
        if full >= IDENTIFIER_SHARE * total:
            found.append(PiiColumn(table, column, header, kind, True, total))
            return tuple(found)
        partial = int(sieved[[inside(v) for v in candidates]].sum())
        if partial:
            found.append(PiiColumn(table, column, header, kind, False, partial))
    names = sum(looks_like_name(v) for v in values[values.str.contains(" ", regex=False)])
    if name_header(header) or (names > MAX_SEGMENT_LEVELS and names >= NAME_VALUE_SHARE * len(values)):
        return (PiiColumn(table, column, header, "name", True, total),)
    return tuple(found)


def _text_counts(series: pd.Series) -> pd.Series | None:
    """Distinct non-blank values of a text column with their counts, in the values' order
    (None for numbers, times): `value_counts` of the values as text, blank ones ("" after
    `str.strip`) left out."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return None
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return _arrow_text_counts(series)
    if isinstance(series.dtype, pd.CategoricalDtype):
        # counted on the codes: the loader's segments, a million rows, a few labels
        codes = series.cat.codes.to_numpy()
        n = np.bincount(codes[codes >= 0], minlength=len(series.cat.categories))
        text = pd.Series(n, index=series.cat.categories.astype(str))
        text = text[(n > 0) & (text.index.str.strip() != "")]
        return text.groupby(level=0).sum().rename_axis(series.name).rename("count")
    text = series.dropna().astype(str)
    return text[text.str.strip() != ""].value_counts(sort=False).sort_index()


def _may_hold_pii(series: pd.Series, header: str) -> bool:
    """Can `scan_column` find anything in this column? Not when its header names no person and
    no value holds "@" (e-mail), a space (names) or a phone number's separators: ids and codes.
    Asked of text held in Arrow before its distinct values are counted (by sorting: ~0.2 s
    for each million-row id column); a sieve in one pass over the column."""
    if name_header(header) or not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return True
    import pyarrow as pa
    import pyarrow.compute as pc

    # "@" for addresses, the phone sieve's separators (a space among them, which names need too)
    return bool(pc.any(pc.match_substring_regex(pa.array(series.array), f"[@{_PHONE_SEPARATORS}]")).as_py())


# a value that `str.strip` empties: only characters Python counts as white space
_BLANK = "^[" + "".join(f"\\x{{{c:04X}}}" for c in range(0x110000) if chr(c).isspace()) + "]*$"


def _arrow_text_counts(series: pd.Series) -> pd.Series:
    """`_text_counts` of text held in Arrow, counted there by sorting. pandas' `value_counts`
    made a Python string of each of a million distinct ids, and Arrow's own hash table peaks
    at 0.2 GB for them; the sorted copy and its run starts hold ~35 MB."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.drop_null(pa.array(series.array))
    text = pc.filter(text, pc.invert(pc.match_substring_regex(text, _BLANK)))
    text = pc.take(text, pc.array_sort_indices(text))      # by code point, as Python sorts text
    same = pc.equal(text[1:], text[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[len(text) > 0, ~same])             # where each run of equal values begins
    values = pd.array(pc.take(text, pa.array(starts, pa.int64())), dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return pd.Series(np.diff(np.r_[starts, len(text)]).astype(np.int64), index=pd.Index(values, name=series.name),
                     name="count")


def _population_counts(data: AuditData) -> dict[str, pd.Series]:
    """Every population value a report can quote, with the interactions holding it: the levels
    of its segments and its unit names (the interactions table itself is only aggregated)."""
    pop = data.population
    out: dict[str, pd.Series] = {}
    if pop is None:
        return out
    n = pd.Series(pop.cells.n, index=pop.cells.keys.index)
    for column in data.categorical:
        if column in pop.cells.keys.columns:
            levels = pop.cells.keys[column].astype(str)
            out[column] = n[levels != MISSING].groupby(levels[levels != MISSING]).sum()
    if pop.units is not None and data.unit_column not in out:
        out[str(data.unit_column)] = pop.units["interactions"].rename(index=str)
    return out


@dataclass(frozen=True)
class Redactor:
    """Replaces personal data in text, report dicts and tables (see the module docstring)."""

    key: bytes = b""
    # identifier value, case-folded (sentences may change the case of a name's first letter) -> token
    tokens: Mapping[str, str] = field(default_factory=dict)

    def token(self, value: str, kind: str) -> str:
        digest = hmac.new(self.key, f"{kind}\x1f{value}".encode("utf-8", "surrogatepass"), hashlib.sha256)
        return f"{kind}-{digest.hexdigest()[:TOKEN_HEX]}"

    def text(self, text: str) -> str:
        """`text` with identifier values replaced by their tokens and any other e-mail address
        or phone number by "[email]" / "[phone]"."""
        if text.casefold() in self.tokens:
            return self.tokens[text.casefold()]
        if "@" in text:
            text = EMAIL.sub(lambda m: self.tokens.get(m.group().casefold(), PLACEHOLDER["email"]), text)
        spans = [m.span() for m in find_phones(text)] if _may_be_phone(text) else []
        for start, end in reversed(spans):
            text = text[:start] + self.tokens.get(text[start:end].casefold(), PLACEHOLDER["phone"]) + text[end:]
        return self._names(text) if self.tokens else text

    def _names(self, text: str) -> str:
        """Identifier values quoted inside a sentence ("Jane Smith's lead ..."), whole words only."""
        words = list(_WORD_SPAN.finditer(text))
        out, last, i = [], 0, 0
        while i < len(words):
            for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
                start, end = words[i].start(), words[i + n - 1].end()
                token = self.tokens.get(text[start:end].casefold())
                if token is not None:
                    out += [text[last:start], token]
                    last, i = end, i + n
                    break
            else:
                i += 1
        return "".join(out) + text[last:] if out else text

    def value(self, value: Any) -> Any:
        return self.text(value) if isinstance(value, str) else value

    def json(self, obj: Any) -> Any:
        """A JSON-able object (the report dict) with every string, keys included, redacted.
        Two keys that redact alike keep apart by their hash."""
        # a report repeats a few thousand distinct strings (keys, unit names) 200,000 times
        redacted: dict[str, str] = {}

        def text(value: str) -> str:
            if value not in redacted:
                redacted[value] = self.text(value)
            return redacted[value]

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return text(value)
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                for k, v in value.items():
                    key = text(k)
                    if key in out:
                        key = f"{key} ({self.token(k, 'key')})"
                    out[key] = walk(v)
                return out
            return value

        return walk(obj)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of an uploaded table with headers and text cells redacted (numbers kept)."""
        out = frame.copy()
        for column in out.columns:
            if _text_counts(out[column]) is not None:
                out[column] = out[column].map(self.value, na_action="ignore").astype(object)
        out.columns = [self.value(c) for c in out.columns]
        return out


@dataclass(frozen=True)
class PiiScan:
    """The personal data found in an audit's inputs and the redactor the exports apply."""

    columns: tuple[PiiColumn, ...] = ()
    redactor: Redactor = field(default_factory=Redactor, compare=False, repr=False)

    def summary(self) -> str:
        """What was found, for the app and the command line: "E-mail addresses (28 cells) and
        phone numbers (38 cells) in 1 column (comment)"."""
        if not self.columns:
            return "No e-mail addresses, phone numbers or person names were found in the inputs"
        words = {"email": "e-mail addresses", "phone": "phone numbers", "name": "person names"}
        found = [f"{words[k]} ({sum(c.cells for c in self.columns if c.kind == k):,} cells)"
                 for k in KINDS if any(c.kind == k for c in self.columns)]
        what = ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + found[-1]
        columns = sorted({c.column for c in self.columns})
        return (f"{what[0].upper()}{what[1:]} in {len(columns)} column{'s' if len(columns) != 1 else ''} "
                f"({', '.join(columns)})")

    def to_dict(self, *, redacted: bool) -> dict[str, Any]:
        return {"personal_data": "redacted" if redacted else "kept",
                "rule": "e-mail addresses and phone numbers inside text -> [email] / [phone]; every value of a "
                        "column of e-mail addresses, phone numbers or person names -> a keyed hash "
                        "(kind-hex, equal values alike)",
                "columns": [c.to_dict() for c in self.columns]}


def _key(scores: Iterable[Any], cells: Iterable[Iterable[Any]]) -> bytes:
    digest = hashlib.sha256(SALT)
    for part in (scores, *cells):
        digest.update(b"\x1e")
        for v in part:
            digest.update(str(v).encode("utf-8", "surrogatepass") + b"\x1f")
    return digest.digest()


def scan_audit_data(data: AuditData) -> PiiScan:
    """The personal data in an audit's inputs: every text column of the responses (all of it
    can be downloaded from the app) and every population value a report can quote (segment
    levels and unit names), with the redactor keyed on them."""
    population_headers = data.population_table.mapping if data.population_table is not None else {}
    # a unit column the responses lack is carried over from the population, under its header there
    headers = {"responses": {**population_headers, **data.responses_table.mapping},
               "population": population_headers}
    found: list[PiiColumn] = []
    key_cells: list[Iterable[Any]] = []
    tokens: dict[str, tuple[str, str]] = {}          # folded value -> (kind, value) as first found
    # one column's distinct values at a time: those of a million-row id column are large
    sources = chain((("responses", c, data.responses[c], _text_counts(data.responses[c])
                      if _may_hold_pii(data.responses[c], str(headers["responses"].get(c, c))) else None)
                     for c in data.responses.columns if not str(c).startswith("_")),
                    (("population", c, None, counts) for c, counts in _population_counts(data).items()))
    for table, column, series, counts in sources:
        if counts is None:
            continue
        hits = scan_column(counts, str(headers[table].get(column, column)), table=table, column=str(column))
        if not hits:
            continue
        found += hits
        key_cells.append(series.tolist() if series is not None else
                         [f"{v}\x1d{n}" for v, n in sorted(counts.items(), key=lambda vn: str(vn[0]))])
        for hit in hits:
            if hit.identifier:
                for value in sorted(str(v) for v in counts.index):
                    tokens.setdefault(value.casefold(), (hit.kind, value))
    if not found:
        return PiiScan()
    base = Redactor(_key(data.responses["score"].tolist(), key_cells))
    redactor = Redactor(base.key, {folded: base.token(value, kind) for folded, (kind, value) in tokens.items()})
    return PiiScan(tuple(found), redactor)
