"""Methodology: every check, its method and references, and the scoring rubric (from the engine itself)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from audit.pipeline import CHECK_ORDER
from audit.scoring import (
    CAP_BIASED,
    CAP_DOUBTFUL_WINNER,
    CAP_NO_POPULATION,
    CAP_UNSUPPORTED_CLAIM,
    GRADES,
    WEIGHTS,
)

METHODOLOGY = Path(__file__).resolve().parents[1] / "METHODOLOGY.md"

st.title("Methodology")
st.markdown("How each check answers its question and how the credibility score is built. The rubric below "
            "is read from the engine, so it cannot drift from what the score does.")
st.subheader("Scoring rubric")
st.table(pd.DataFrame([{"check": cid, "points deducted on fail": WEIGHTS[cid][0],
                        "points deducted on warning": WEIGHTS[cid][1]} for cid in CHECK_ORDER]).set_index("check"))
st.markdown(
    f"Start at 100 and deduct. Caps: a claim the data do not support scores at most {CAP_UNSUPPORTED_CLAIM}; "
    f"a failed data-quality, invitation-selectivity or non-response check at most {CAP_BIASED}; no "
    f"interactions table at most {CAP_NO_POPULATION}; an award whose winner is not clearly first or whose "
    f"ratings look padded at most {CAP_DOUBTFUL_WINNER}. Grades: "
    + ", ".join(f"{letter} ≥ {floor}" for floor, letter in GRADES if floor) + ", F below.")
st.divider()
# the file's own "# Methodology" heading would repeat the page title
st.markdown(METHODOLOGY.read_text(encoding="utf-8").split("\n", 1)[1].replace(
    "`../shared/METHODS.md`", "the methods reference METHODS.md (shipped with the product contract)"))
