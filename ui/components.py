"""Drawing helpers shared by the pages: status badges, check cards, charts with takeaways."""
from __future__ import annotations

import re
from typing import Any, Iterable

import pandas as pd
import streamlit as st

from audit.figures import Chart, charts_for_page
from audit.render import STATUS_LABELS, frame_csv

STATUS_ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "not_applicable": "➖"}


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~:])")


def md_escape(text: object) -> str:
    """User-supplied text (unit names, headers, titles, file names, and engine sentences that
    quote them) shown literally by st.markdown: links, images, LaTeX ($…$) and colour
    directives (:red[…]) are not interpreted."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def badge(status: str) -> str:
    """Status as icon and word: readable without colour."""
    return f"{STATUS_ICONS[status]} {STATUS_LABELS[status]}"


def check_by_id(data: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in data["checks"] if c["id"] == check_id)


def show_chart(chart: Chart) -> None:
    st.markdown(f"**{md_escape(chart.title)}** — {md_escape(chart.takeaway)}")
    st.plotly_chart(chart.figure, width="stretch", theme=None, key=f"chart-{chart.key}")


def show_page_charts(data: dict[str, Any], page: str) -> None:
    for chart in charts_for_page(data, page):
        show_chart(chart)


def check_card(check: dict[str, Any], *, expanded: bool = False) -> None:
    """One check: status, plain-language finding, and every number behind it."""
    with st.expander(f"{badge(check['status'])} · {check['title']}", expanded=expanded):
        st.markdown(md_escape(check["summary"]))
        numbers = {k: check[k] for k in ("statistic", "p_value", "effect_size") if check.get(k) is not None}
        if numbers:
            st.caption(" · ".join(f"{k.replace('_', ' ')} = {v:.4g}" for k, v in numbers.items()))
        st.caption("Every number behind this check (click to unfold):")
        st.json(check["details"], expanded=False)


def check_cards(data: dict[str, Any], ids: Iterable[str]) -> None:
    for check_id in ids:
        check = check_by_id(data, check_id)
        check_card(check, expanded=check["status"] == "fail")


def rows_download(frame: pd.DataFrame, label: str, file_name: str, key: str) -> None:
    """A CSV download of source rows, formula-safe (OWASP), with the row numbers as in the file."""
    st.download_button(label, frame_csv(frame), file_name=file_name, mime="text/csv", key=key,
                       disabled=frame.empty)
