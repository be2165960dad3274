"""Data integrity: are the answers real? Duplicates, copies, timing, straight-lining, speeders, suspect units."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.components import badge, check_by_id, check_card, rows_download, show_page_charts
from ui.state import keep_pii, privacy_note, require_bundle

CHECKS = ("duplicate_responses", "near_duplicates", "timing_anomalies", "straightlining", "speeding",
          "score_inflation")


def listed_rows(details: Any, path: str = "") -> dict[str, list[int]]:
    """Source row numbers the check lists as evidence, by where they appear in its details."""
    found: dict[str, list[int]] = {}
    if isinstance(details, dict):
        for key, value in details.items():
            label = f"{path} › {key}" if path else str(key)
            if key in ("rows", "examples") or path.endswith("examples"):
                if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
                    found[label] = value
                    continue
            found.update(listed_rows(value, label))
    elif isinstance(details, list):
        for i, item in enumerate(details):
            found.update(listed_rows(item, f"{path} #{i + 1}"))
    return found


def evidence_frame(responses: pd.DataFrame, rows: dict[str, list[int]]) -> pd.DataFrame:
    """The responses behind a finding, as they appear in the uploaded file (row = spreadsheet row)."""
    if not rows:
        return pd.DataFrame()
    # the finding and the row number lead under names no uploaded column can take
    frame = pd.concat({label: responses[responses["_source_row"].isin(numbers)] for label, numbers in rows.items()},
                      names=["(finding)", None]).reset_index(level=0).reset_index(drop=True)
    source = frame.pop("_source_row")
    frame.insert(1, "(row in file)", source)
    return frame


bundle = require_bundle()
if bundle is not None:
    data = bundle.data
    st.title("Data integrity")
    st.markdown("Are the answers real? Each check below lists the rows behind its finding (row numbers as "
                "your spreadsheet shows them; up to 20 per finding) for download.")
    summary = pd.DataFrame([{"check": check_by_id(data, c)["title"], "status": badge(check_by_id(data, c)["status"])}
                            for c in CHECKS]).set_index("check")
    st.table(summary)
    show_page_charts(data, "integrity")
    responses = bundle.report.data.responses if bundle.report.data is not None else None
    if responses is not None and bundle.report.privacy.columns:
        st.caption(privacy_note(bundle))
    for check_id in CHECKS:
        check = check_by_id(data, check_id)
        check_card(check, expanded=check["status"] == "fail")
        if responses is None or check_id == "score_inflation":
            continue
        frame = evidence_frame(responses, listed_rows(check["details"]))
        if not keep_pii():       # the exports' default (audit.pii): e-mails, phones, names hashed or redacted
            frame = bundle.report.privacy.redactor.frame(frame)
        if not frame.empty:
            with st.expander(f"Rows behind “{check['title']}” ({len(frame)})"):
                st.dataframe(frame, width="stretch", hide_index=True, key=f"rows-{check_id}")
                rows_download(frame, "Download these rows (CSV)", f"{check_id}_rows.csv", key=f"dl-{check_id}")
