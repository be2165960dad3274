"""Streamlit front end: the executive credibility report of an audit.

`streamlit run app.py` opens on the bundled sample audit; the engine does all the work
(`audit.run_audit`), this file only draws.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from audit import InputError, run_audit
from audit.headline import format_value
from audit.render import findings_csv, report_html, report_json

SAMPLE = Path(__file__).parent / "sample_data" / "contact_center"
STATUS_ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "not_applicable": "➖"}
STATUS_LABELS = {"pass": "pass", "warn": "warning", "fail": "fail", "not_applicable": "not applicable"}


@st.cache_data(show_spinner=False)
def sample_report_json() -> dict:
    report = run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")
    return {"dict": report.to_dict(), "json": report_json(report), "csv": findings_csv(report),
            "html": report_html(report)}


def show_report(bundle: dict) -> None:
    report = bundle["dict"]
    cred, metric, claim = report["credibility"], report["metric"], report["claim"]
    st.subheader(claim["title"])
    left, mid, right = st.columns([1, 1, 3])
    left.metric("Credibility score", f"{cred['score']} / 100")
    mid.metric("Grade", cred["grade"])
    right.markdown(f"**Verdict.** {cred['verdict']}")
    name = metric["name"]
    st.markdown(
        f"**The number:** {format_value(metric['estimate'], name)} "
        f"(95 % CI {format_value(metric['ci_low'], name)} – {format_value(metric['ci_high'], name)}, "
        f"n = {metric['n']:,}); population-weighted: {format_value(metric.get('adjusted_estimate'), name)}.")
    if cred.get("caps"):
        st.caption("Score capped because: " + "; ".join(cred["caps"]) + ". See the methodology for the rubric.")
    # st.table wraps long findings and shows every row (st.dataframe would truncate both)
    rows = [{"check": c["title"], "status": f"{STATUS_ICONS[c['status']]} {STATUS_LABELS[c['status']]}",
             "finding": c["summary"]} for c in report["checks"]]
    st.table(pd.DataFrame(rows).set_index("check"))
    c1, c2, c3 = st.columns(3)
    c1.download_button("report.json", bundle["json"], "report.json", "application/json")
    c2.download_button("findings.csv", bundle["csv"], "findings.csv", "text/csv")
    c3.download_button("report.html", bundle["html"], "report.html", "text/html")


def main() -> None:
    st.set_page_config(page_title="Survey credibility auditor", page_icon="🔎", layout="wide")
    st.title("Can we stand behind this number?")
    st.caption("Audits a customer-satisfaction figure or award for sampling bias, response-rate skew, "
               "non-response bias, significance and data integrity.")
    try:
        with st.spinner("Auditing the bundled sample…"):
            bundle = sample_report_json()
    except InputError as exc:
        st.error(f"The sample data could not be audited: {exc}")
        return
    st.info("Showing the bundled sample audit (sample_data/contact_center).")
    show_report(bundle)


main()
