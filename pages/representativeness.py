"""Representativeness: do respondents (and invited interactions) look like all interactions?"""
from __future__ import annotations

import streamlit as st

from ui.components import check_by_id, check_cards, show_page_charts
from ui.state import require_bundle

bundle = require_bundle()
if bundle is not None:
    data = bundle.data
    st.title("Representativeness")
    rep = check_by_id(data, "representativeness")["details"]
    adj = check_by_id(data, "nonresponse_adjustment")["details"]
    c1, c2, c3 = st.columns(3)
    if rep.get("r_indicator") is not None:
        c1.metric("R-indicator", f"{rep['r_indicator']:.2f}",
                  help="1 = respondents are a random subset (Schouten, Cobben & Bethlehem 2009)")
    if adj.get("design_effect") is not None:
        c2.metric("Design effect of the weights", f"{adj['design_effect']:.2f}")
        c3.metric("Effective n", f"{adj['effective_n']:,.0f}")
    st.markdown("A covariate with ASMD above 0.1 differs noticeably between the groups, above 0.25 strongly "
                "(Austin 2009). Weighting should bring respondents close to the population.")
    show_page_charts(data, "representativeness")
    check_cards(data, ["invitation_selectivity", "representativeness", "nonresponse_adjustment"])
