"""Export: the report as JSON (for scripts), CSV (for spreadsheets), HTML (self-contained) and PDF."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from audit.pdf import executive_pdf
from audit.render import findings_csv, report_html, report_json
from ui.state import KEEP_PII, Bundle, keep_pii, privacy_note, require_bundle


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs={Bundle: lambda b: b.json})
def documents(bundle: Bundle, keep: bool) -> tuple[str, str, str, bytes]:
    """report.json, findings.csv, the HTML report and the executive PDF of one audit, with the
    personal data redacted or `keep` (built once per report and choice)."""
    if not keep:
        return bundle.json, bundle.csv, report_html(bundle.data), executive_pdf(bundle.data)
    data = replace(bundle.report, keep_pii=True).to_dict()
    return report_json(data), findings_csv(data), report_html(data), executive_pdf(data)


def remember_keep_pii() -> None:
    # the checkbox's own state is dropped when another page runs; the choice is kept for the session
    st.session_state[KEEP_PII] = st.session_state["keep_pii_box"]


bundle = require_bundle()
if bundle is not None:
    st.title("Export")
    st.markdown("Every export carries the same numbers as the pages. CSV cells that a spreadsheet would run "
                "as a formula are neutralised; everything in the HTML report is escaped.")
    if bundle.report.privacy.columns:
        st.checkbox("Keep e-mail addresses, phone numbers and names", value=keep_pii(), key="keep_pii_box",
                    on_change=remember_keep_pii,
                    help="Off by default: the exports are often shared beyond the people allowed to see "
                         "customers' contact details.")
        st.caption(privacy_note(bundle))
    with st.spinner("Preparing the HTML and PDF reports…"):
        json_text, csv_text, html, pdf = documents(bundle, keep_pii())
    c1, c2 = st.columns(2)
    with c1:
        st.download_button("report.json", json_text, "report.json", "application/json", key="dl_json",
                           width="stretch")
        st.caption("SPEC report.json: every check with its statistic, p-value and details; byte-identical for "
                   "the same inputs.")
        st.download_button("findings.csv", csv_text, "findings.csv", "text/csv", key="dl_csv",
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
