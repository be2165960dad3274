"""Rankings & awards: is the winner really the best, and who stands out beyond chance?"""
from __future__ import annotations

import streamlit as st

from ui.components import check_by_id, check_cards, show_page_charts
from ui.state import require_bundle

bundle = require_bundle()
if bundle is not None:
    data = bundle.data
    st.title("Rankings & awards")
    rank = check_by_id(data, "rank_uncertainty")
    if rank["status"] != "not_applicable":
        d = rank["details"]
        c1, c2, c3 = st.columns(3)
        c1.metric("Award winner" if d.get("award_claimed") else "Top of the league table", d["claimed_unit"])
        low, high = d["rank_ci"]
        c2.metric("Rank, 95 % confidence set", f"{low}–{high} of {d['units_count']}" if low != high else f"{low}")
        c3.metric("P(truly best)", f"{100 * d['p_best']:.1f} %" if d["p_best"] < 0.1 else f"{100 * d['p_best']:.0f} %")
    show_page_charts(data, "rankings")
    check_cards(data, ["rank_uncertainty", "funnel_outliers", "claim_significance", "score_inflation"])
