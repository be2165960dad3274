"""Credibility report: the executive page — score, grade, verdict, the findings that matter."""
from __future__ import annotations

import streamlit as st

from audit.figures import metric_comparison, score_gauge
from audit.headline import format_value
from ui.components import badge, check_by_id, check_cards, md_escape, show_chart
from ui.state import privacy_note, require_bundle

bundle = require_bundle()
if bundle is not None:
    data = bundle.data
    cred, metric, claim = data["credibility"], data["metric"], data["claim"]
    st.title(md_escape(claim["title"]))
    st.caption(f"Audit of {md_escape(bundle.label)} · {len(data['checks'])} checks · engine "
               f"{data['audit']['engine_version']}, seed {data['audit']['seed']}")
    left, mid, right = st.columns([1, 1, 3])
    left.metric("Credibility score", f"{cred['score']} / 100")
    mid.metric("Grade", cred["grade"])
    right.markdown(f"**Verdict.** {md_escape(cred['verdict'])}")
    if cred.get("caps"):
        st.caption("Score capped because: " + "; ".join(cred["caps"]) + ". See Methodology for the rubric.")
    if bundle.report.privacy.columns:
        st.caption(privacy_note(bundle))

    g1, g2 = st.columns(2)
    with g1:
        show_chart(score_gauge(data))
    with g2:
        comparison = metric_comparison(data)
        if comparison is not None:
            show_chart(comparison)
    name = metric["name"]
    adjusted = metric.get("adjusted_estimate")
    st.markdown(
        f"**The number:** {format_value(metric['estimate'], name)} "
        f"(95 % CI {format_value(metric['ci_low'], name)} – {format_value(metric['ci_high'], name)}, "
        f"n = {metric['n']:,})" + (f"; weighted to the population: {format_value(adjusted, name)}."
                                   if adjusted is not None else "; no population-weighted figure "
                                   "(needs the interactions table)."))

    st.subheader("What matters most")
    if not cred["key_findings"]:
        st.success("No check found a problem.")
    for i, check_id in enumerate(cred["key_findings"], start=1):
        check = check_by_id(data, check_id)
        st.markdown(f"{i}. **{check['title']}** ({badge(check['status'])}): {md_escape(check['summary'])}")

    st.subheader("All checks")
    st.caption("Open a check to see every number behind it; failures are open.")
    check_cards(data, [c["id"] for c in data["checks"]])
