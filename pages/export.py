"""Export: the report as JSON (for scripts), CSV (for spreadsheets), HTML (self-contained) and PDF."""
from __future__ import annotations

import streamlit as st

from audit.pdf import executive_pdf
from audit.render import report_html
from ui.state import Bundle, require_bundle


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs={Bundle: lambda b: b.json})
def documents(bundle: Bundle) -> tuple[str, bytes]:
    """The HTML report and the executive PDF of one audit (built once per report)."""
    return report_html(bundle.report), executive_pdf(bundle.report)


bundle = require_bundle()
if bundle is not None:
    st.title("Export")
    st.markdown("Every export carries the same numbers as the pages. CSV cells that a spreadsheet would run "
                "as a formula are neutralised; everything in the HTML report is escaped.")
    with st.spinner("Preparing the HTML and PDF reports…"):
        html, pdf = documents(bundle)
    c1, c2 = st.columns(2)
    with c1:
        st.download_button("report.json", bundle.json, "report.json", "application/json", key="dl_json",
                           width="stretch")
        st.caption("SPEC report.json: every check with its statistic, p-value and details; byte-identical for "
                   "the same inputs.")
        st.download_button("findings.csv", bundle.csv, "findings.csv", "text/csv", key="dl_csv",
                           width="stretch")
        st.caption("One row per check: status, finding, statistic, p-value.")
    with c2:
        st.download_button("report.html", html, "report.html", "text/html", key="dl_html",
                           width="stretch")
        st.caption("Self-contained: charts included, works offline, prints well.")
        st.download_button("executive.pdf", pdf, "executive.pdf", "application/pdf", key="dl_pdf",
                           width="stretch")
        st.caption("The executive page: score, grade, verdict, key findings, the number with and without "
                   "weighting.")
