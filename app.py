"""Streamlit front end of the survey credibility auditor.

`streamlit run app.py` opens on the Start page: one click audits the bundled sample, or
upload a survey export (and the interactions it was drawn from). The engine does all the
work (`audit.run_audit`, cached per input); the pages under `pages/` only draw its report.
"""
from __future__ import annotations

import streamlit as st

from audit.limits import MB, use_system_allocator
from ui.components import badge, md_escape
from ui.state import current_bundle
from ui.workspace import keep_uploads_in_memory

PAGES = [
    st.Page("pages/start.py", title="Start", icon="🏁", default=True),
    st.Page("pages/report.py", title="Credibility report", icon="🔎"),
    st.Page("pages/response_rates.py", title="Response rates", icon="📬"),
    st.Page("pages/representativeness.py", title="Representativeness", icon="⚖️"),
    st.Page("pages/rankings.py", title="Rankings & awards", icon="🏆"),
    st.Page("pages/integrity.py", title="Data integrity", icon="🧾"),
    st.Page("pages/export.py", title="Export", icon="📤"),
    st.Page("pages/methodology.py", title="Methodology", icon="📐"),
]

st.set_page_config(page_title="Survey credibility auditor", page_icon="🔎", layout="wide")
keep_uploads_in_memory(st.get_option("server.maxUploadSize") * MB)
use_system_allocator()
page = st.navigation(PAGES)
bundle = current_bundle()
with st.sidebar:
    if bundle is None:
        st.caption("No audit yet: start one on the Start page.")
    else:
        cred = bundle.data["credibility"]
        st.caption(f"Auditing {md_escape(bundle.label)}")
        st.markdown(f"**{cred['score']} / 100 · grade {cred['grade']}**")
        failed = sum(c["status"] == "fail" for c in bundle.data["checks"])
        st.caption(f"{badge('fail')}: {failed} of {len(bundle.data['checks'])} checks")
page.run()
