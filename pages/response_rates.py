"""Response rates: who answered, by segment and unit, and whether the differences are beyond chance."""
from __future__ import annotations

import streamlit as st

from ui.components import check_by_id, check_cards, show_page_charts
from ui.state import require_bundle

bundle = require_bundle()
if bundle is not None:
    data = bundle.data
    st.title("Response rates")
    rate = check_by_id(data, "response_rate")
    if rate["status"] != "not_applicable" and rate["details"].get("rate") is not None:
        d = rate["details"]
        c1, c2, c3 = st.columns(3)
        c1.metric("Invited interactions", f"{d['invited']:,}")
        c2.metric("Invited interactions answered", f"{d['responded']:,}",
                  help="Counted in the interactions table; a response file can hold more rows (repeat answers).")
        c3.metric("Response rate", f"{100 * d['rate']:.1f} %",
                  help=f"95 % Wilson CI {100 * d['ci_low']:.1f}–{100 * d['ci_high']:.1f} % ({d['definition']})")
    st.markdown("If some segments answer far more often than others, the published number speaks mostly "
                "for them. Each chart shows the response rate per level with its 95 % interval.")
    show_page_charts(data, "response_rates")
    check_cards(data, ["response_rate", "response_rate_skew"])
