"""Drawing helpers shared by the pages: status badges, check cards, charts with takeaways."""
from __future__ import annotations

import re
from typing import Any, Iterable

import pandas as pd
import streamlit as st

from audit.figures import Chart, charts_for_page
from audit.headline import format_p
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


def check_numbers_caption(check: dict[str, Any]) -> str:
    """'statistic = 7514 · p < 0.001 · effect size = 0.122': a p-value that underflows to 0
    reads as 'p < 0.001', never 'p value = 0'."""
    parts = [f"statistic = {check['statistic']:.4g}"] if check.get("statistic") is not None else []
    parts += [format_p(check["p_value"])] if check.get("p_value") is not None else []
    parts += [f"effect size = {check['effect_size']:.4g}"] if check.get("effect_size") is not None else []
    return " · ".join(parts)


def check_card(check: dict[str, Any], *, expanded: bool = False) -> None:
    """One check: status, plain-language finding, and every number behind it."""
    with st.expander(f"{badge(check['status'])} · {check['title']}", expanded=expanded):
        st.markdown(md_escape(check["summary"]))
        numbers = check_numbers_caption(check)
        if numbers:
            st.caption(numbers)
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
