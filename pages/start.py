"""Start: try the bundled sample audit, or upload a survey export, map its columns and state the claim."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from audit import InputError
from audit.claim import CLAIM_TYPES, parse_claim
from audit.limits import Limits, human_bytes
from audit.loading import POPULATION_FIELDS, RESPONSE_FIELDS, detect_mapping, read_table
from ui.components import md_escape
from ui.state import SAMPLE_LABEL, AuditInputs, current_limits, sample_inputs, start_audit

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]
NOT_MAPPED = "(detect automatically)"
FIELD_MEANING = {
    "score": "the rating (1-5, 0-10, labels such as 'Very satisfied')",
    "response_id": "one id per survey response",
    "interaction_id": "the call/chat/ticket the survey is about",
    "customer_id": "who answered",
    "agent_id": "the unit rated: agent, team or site",
    "submitted_at": "when the survey was answered",
    "interaction_at": "when the interaction happened",
    "duration_s": "seconds spent on the survey",
    "invited": "1 if the interaction was offered the survey",
    "responded": "1 if it was answered",
}
SAMPLE_CLAIMS = {
    "“96 % of customers satisfied” (CSAT level)": "claim.json",
    "“Agent A07 – Customer Service Champion” (award)": "claim_award.json",
    "“CSAT up 1.7 points from August to September” (change)": "claim_change.json",
}
CLAIM_TYPE_HELP = {"level": "a published level, e.g. 96 % satisfied",
                   "best_unit": "an award: this unit is the best", "change": "a rise or fall between two periods",
                   "benchmark": "better than a benchmark, e.g. the industry's 85 %"}


@st.cache_data(show_spinner=False, max_entries=8)
def file_preview(data: bytes, name: str, limits: Limits) -> tuple[list[str], pd.DataFrame, str]:
    """Headers, the first rows and the export format of an upload (raises InputError, over `limits` too)."""
    frame, export_format, _, _ = read_table(data, name=name, limits=limits)
    return [str(c) for c in frame.columns], frame.head(5), export_format


def mapping_editor(headers: list[str], kind: str, key: str) -> dict[str, str]:
    """The auto-detected mapping in an editable table; returns {field: header} as edited."""
    fields = RESPONSE_FIELDS if kind == "responses" else POPULATION_FIELDS
    detected = detect_mapping(headers, kind)  # type: ignore[arg-type]
    table = pd.DataFrame({"field": list(fields), "meaning": [FIELD_MEANING[f] for f in fields],
                          "column in your file": [detected.get(f, NOT_MAPPED) for f in fields]})
    edited = st.data_editor(
        table, key=key, hide_index=True, width="stretch", disabled=["field", "meaning"],
        column_config={"column in your file": st.column_config.SelectboxColumn(
            options=[NOT_MAPPED, *headers], required=True,
            help="Auto-detected from the headers; change it if the guess is wrong.")})
    return {row["field"]: row["column in your file"] for _, row in edited.iterrows()
            if row["column in your file"] not in (NOT_MAPPED, None)}


def published_number(text: str, label: str) -> float | None:
    """A number typed as '95 %', '0,95' or '+3' (the engine brings percentages to its scale);
    None after an inline error."""
    try:
        return float(text.replace("%", "").replace(",", ".").strip())
    except ValueError:
        st.error(f"{label}: '{md_escape(text)}' is not a number (expected e.g. 95 %, 0.95 or +3).")
        return None


def claim_form(headers: list[str]) -> dict[str, Any] | None:
    """The claim as a SPEC claim mapping, from a form; None when nothing was stated."""
    ctype = st.selectbox("What was published?", CLAIM_TYPES, format_func=lambda t: f"{t}: {CLAIM_TYPE_HELP[t]}")
    title = st.text_input("Headline as published", placeholder="CSAT Q3: 95 % of customers satisfied")
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox("Metric", ["auto", "top2box", "mean", "nps"],
                          help="auto: NPS on a 0-10 scale, else the top-2-box share")
    scale = c2.selectbox("Scale", ["auto", "1-5", "0-10", "1-7", "1-10"], help="auto: inferred from the scores")
    value = c3.text_input("Published value", placeholder="95 %, 0.95, +3 or 42",
                          help="A level, the change (after − before) or the winner's score; leave empty if none.")
    claim: dict[str, Any] = {"type": ctype}
    if title:
        claim["title"] = title
    if metric != "auto":
        claim["metric"] = metric
    if scale != "auto":
        claim["scale"] = [int(x) for x in scale.split("-")]
    if value.strip():
        claim["value"] = published_number(value, "Published value")
        if claim["value"] is None:
            return None
    choices = [""] + headers
    if ctype == "best_unit":
        u1, u2 = st.columns(2)
        claim["unit_column"] = u1.selectbox("Unit column", choices, index=choices.index("agent_id")
                                            if "agent_id" in choices else 0) or None
        claim["unit"] = u2.text_input("Winning unit", placeholder="A07") or None
    elif ctype == "change":
        p1, p2, p3 = st.columns(3)
        claim["period_column"] = p1.selectbox("Period column", choices) or None
        claim["before"] = p2.text_input("Before period", placeholder="2026-08") or None
        claim["after"] = p3.text_input("After period", placeholder="2026-09") or None
    elif ctype == "benchmark":
        bench = st.text_input("Benchmark", placeholder="85 %")
        if bench.strip():
            claim["benchmark"] = published_number(bench, "Benchmark")
            if claim["benchmark"] is None:
                return None
    claim = {k: v for k, v in claim.items() if v is not None}
    try:
        parse_claim(claim, name="the claim form")
    except InputError as exc:
        st.error(md_escape(exc))
        return None
    return claim


def preview(upload, key: str, limits: Limits) -> list[str] | None:
    try:
        headers, head, export_format = file_preview(upload.getvalue(), upload.name, limits)
    except InputError as exc:
        st.error(f"**{md_escape(upload.name)} cannot be read.** {md_escape(exc)}")
        return None
    st.caption(f"{md_escape(upload.name)}: {export_format} export, {len(headers)} columns. First rows:")
    st.dataframe(head, width="stretch", key=f"preview-{key}")
    return headers


def run_and_open(inputs: AuditInputs) -> None:
    if start_audit(inputs) is not None:
        st.switch_page("pages/report.py")


st.title("Can we stand behind this number?")
st.markdown("Checks whether a published customer-satisfaction figure or award deserves to be believed: "
            "sampling and invitation bias, response-rate skew, non-response bias, significance, ranking "
            "uncertainty and data integrity — with a credibility score an executive can read in a minute.")

with st.container(border=True):
    st.subheader("Try the sample audit")
    st.caption("A realistic contact center (20,000 interactions, 3,078 survey responses) with planted "
               "problems, documented in sample_data/README.md.")
    which = st.selectbox("Published claim to audit", list(SAMPLE_CLAIMS), key="sample_claim")
    if st.button("Try the sample audit", type="primary", key="try_sample"):
        inputs = sample_inputs(SAMPLE_CLAIMS[which])
        if SAMPLE_CLAIMS[which] != "claim.json":
            inputs = AuditInputs(**{**inputs.__dict__, "label": f"{SAMPLE_LABEL}, {which}"})
        run_and_open(inputs)

st.subheader("Audit your own survey")
limits = current_limits()
per_file = (f" Up to {human_bytes(limits.max_bytes)}" if limits.max_bytes else " No size limit") + (
    f" and {limits.max_rows:,} rows per file." if limits.max_rows else ", no row limit.")
left, right = st.columns(2)
responses = left.file_uploader("Survey responses (required)", type=UPLOAD_TYPES, key="responses_file",
                               help="CSV (any delimiter, UTF-8 or Latin-1), Excel or Parquet; raw Qualtrics, "
                                    "SurveyMonkey and Zendesk CSAT exports are recognised." + per_file)
population = right.file_uploader("All interactions the surveys were drawn from (optional, recommended)",
                                 type=UPLOAD_TYPES, key="population_file",
                                 help="One row per call/chat/ticket, with invited/responded flags and "
                                      "covariates (channel, resolved, handle time…). Without it, sampling and "
                                      "non-response bias cannot be checked and the score is capped at 79."
                                      + per_file)
if responses is None:
    st.caption("Upload a responses file to map its columns and describe the claim.")
else:
    with left:
        resp_headers = preview(responses, "responses", limits)
    pop_headers = None
    if population is not None:
        with right:
            pop_headers = preview(population, "population", limits)
    if resp_headers is not None and (population is None or pop_headers is not None):
        st.markdown("**Column mapping** — detected automatically; correct it where needed.")
        m1, m2 = st.columns(2)
        with m1:
            st.caption(f"Responses: {md_escape(responses.name)}")
            resp_map = mapping_editor(resp_headers, "responses", "map_responses")
        pop_map: dict[str, str] = {}
        if pop_headers is not None:
            with m2:
                st.caption(f"Interactions: {md_escape(population.name)}")
                pop_map = mapping_editor(pop_headers, "population", "map_population")
        st.markdown("**The claim** — what was published?")
        source = st.radio("Claim", ["Describe it here", "Upload claim.json"], horizontal=True,
                          label_visibility="collapsed")
        claim: dict[str, Any] | None = None
        ok = True
        if source == "Upload claim.json":
            claim_file = st.file_uploader("claim.json", type=["json"], key="claim_file")
            if claim_file is not None:
                try:
                    claim = json.loads(claim_file.getvalue().decode("utf-8-sig"))
                    parse_claim(claim, name=claim_file.name)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    st.error(f"**{md_escape(claim_file.name)}** is not valid JSON: {md_escape(exc)}")
                    ok = False
                except InputError as exc:
                    st.error(md_escape(exc))
                    ok = False
        else:
            claim = claim_form(sorted(set(resp_headers) | set(pop_headers or [])))
            ok = claim is not None
        if st.button("Run the audit", type="primary", disabled=not ok, key="run_upload"):
            run_and_open(AuditInputs(
                responses=responses.getvalue(), responses_name=responses.name,
                population=population.getvalue() if population is not None else None,
                population_name=population.name if population is not None else None,
                claim=json.dumps(claim), mapping=json.dumps({"responses": resp_map, "population": pop_map}),
                label=responses.name + (f" + {population.name}" if population is not None else "")))
