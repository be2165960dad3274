"""Charts of an audit report: plotly figures, each with a one-line takeaway.

Every function takes the report *dict* (`AuditReport.to_dict()`, i.e. report.json) and
returns a :class:`Chart` — or None / [] when the report lacks what the chart needs (the
check is `not_applicable`, or its details are missing). The Streamlit pages and the
self-contained HTML export both draw from here, so this module imports plotly only (no
streamlit) and holds no state: the same dict always gives the same ``fig.to_json()``.

Conventions:

* colours come from :data:`PALETTE` (Okabe & Ito 2008, colour-blind safe); status colours
  are pass = bluish green, warn = orange, fail = vermillion, not applicable = grey, and
  every highlighted element also differs in shape or label, never in colour alone;
* shares are plotted as fractions with a percent axis (so the plotted numbers are the
  report's numbers), NPS in points, means on the rating scale;
* user-supplied strings (unit names, column names, the claim title) are passed to plotly as
  data and labels only, never as format strings; plotly escapes them when drawing.
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import plotly.graph_objects as go

from audit.headline import format_value, ordinal
from audit.metrics import wilson_interval
from audit.scoring import GRADE_BANDS, grade_for

# --------------------------------------------------------------------------------------------
# palette and shared helpers
# --------------------------------------------------------------------------------------------

_OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
    # the neutral grey that usually accompanies Okabe-Ito (e.g. the Cookbook for R palette)
    "grey": "#999999",
}
#: Okabe-Ito colours by name, plus the status colours (read-only).
PALETTE: Mapping[str, str] = MappingProxyType({
    **_OKABE_ITO,
    "pass": _OKABE_ITO["bluish_green"], "warn": _OKABE_ITO["orange"],
    "fail": _OKABE_ITO["vermillion"], "not_applicable": _OKABE_ITO["grey"],
})

#: Pages of the app and the order of :func:`all_charts`.
PAGES: tuple[str, ...] = ("report", "response_rates", "representativeness", "rankings", "integrity")

TEMPLATE = "plotly_white"
GRADE_COLOURS = {"F": "vermillion", "D": "orange", "C": "yellow", "B": "sky_blue", "A": "bluish_green"}
ASMD_LINES = (0.1, 0.25)             # Austin 2009 (negligible below), Stuart 2010 (large above)
MAX_RANK_ROWS = 40                   # rank whiskers: more rows are unreadable
MANY_LEVELS = 12                     # response rates: horizontal sorted bars above this
P_BEST_MIN = 0.01                    # P(best) bars: units with at least this chance ...
P_BEST_TOP = 10                      # ... or at least the top 10
P_BEST_CLEAR = 0.90                  # rank_uncertainty passes a winner at P(best) >= 0.90
LAG_FLOOR_H = 1 / 60                 # lags <= 0 drawn at 1 minute on the log axis
LAG_TICKS: tuple[tuple[float, str], ...] = (
    (1 / 60, "1 min"), (5 / 60, "5 min"), (15 / 60, "15 min"), (0.5, "30 min"), (1, "1 h"), (2, "2 h"),
    (6, "6 h"), (12, "12 h"), (24, "1 day"), (72, "3 days"), (168, "1 week"), (720, "30 days"))
INTEGRITY_CHECKS = ("duplicate_responses", "near_duplicates", "timing_anomalies", "straightlining", "speeding")
SIGNAL_LABELS = {
    "top_box": "High top-box share", "maximum_scores": "Excess maximum scores",
    "selective_offers": "Surveys offered after good contacts", "response_rate": "High response rate",
    "repeat_ratings": "Repeat raters / re-used links", "burst": "Burst of responses",
    "copied_answers": "Copied answers",
}


# Plotly draws every text through its own markup (<a href>, <span style>, <b>, <br>, ...) and
# decodes HTML entities. The figures here write only these tags themselves; every other "<",
# ">" and "&" in a figure (unit names, column names, the claim title) is escaped, so a unit
# named '<a href="https://evil.example">' is drawn as that text, not as a link.
_OWN_MARKUP = re.compile(r"&lt;(/?(?:b|br|extra))&gt;")


def _inert(value: Any) -> Any:
    """A figure's dict with plotly markup in its text escaped, except the tags the figures use."""
    if isinstance(value, str):
        return _OWN_MARKUP.sub(r"<\1>", html.escape(value, quote=False))
    if isinstance(value, Mapping):
        return {k: _inert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (hasattr(value, "dtype") and value.dtype.kind in "OUS"):
        return [_inert(v) for v in value]
    return value


@dataclass(frozen=True)
class Chart:
    """One figure with the sentence a reader should take away from it.

    `title` and `takeaway` are plain text; the figure's own text is made inert on creation
    (see `_inert`)."""

    key: str              # stable id, e.g. "funnel"
    title: str
    takeaway: str         # one sentence with the key numbers
    figure: go.Figure

    def __post_init__(self) -> None:
        object.__setattr__(self, "figure", go.Figure(_inert(self.figure.to_dict())))


def _rgba(name: str, alpha: float) -> str:
    """A palette colour with transparency (for bands and fills)."""
    h = PALETTE[name].lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"


def _check(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any] | None:
    """The check's dict when it ran (status other than not_applicable) and has details."""
    for check in report.get("checks") or ():
        if isinstance(check, Mapping) and check.get("id") == check_id:
            if check.get("status") == "not_applicable" or not isinstance(check.get("details"), Mapping):
                return None
            return check
    return None


def _details(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any] | None:
    check = _check(report, check_id)
    return None if check is None else check["details"]


def _status(report: Mapping[str, Any], check_id: str) -> str | None:
    for check in report.get("checks") or ():
        if isinstance(check, Mapping) and check.get("id") == check_id:
            return check.get("status")
    return None


def _num(value: Any) -> float | None:
    """A finite float, or None (JSON null, NaN, strings, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _metric_name(report: Mapping[str, Any]) -> str:
    name = (report.get("metric") or {}).get("name") or (report.get("claim") or {}).get("metric")
    return name if name in ("top2box", "mean", "nps") else "mean"


def _scale(report: Mapping[str, Any]) -> tuple[float, float] | None:
    scale = (report.get("claim") or {}).get("scale") or (report.get("audit") or {}).get("scale")
    if isinstance(scale, Sequence) and len(scale) == 2 and all(_num(v) is not None for v in scale):
        return float(scale[0]), float(scale[1])
    return None


def _metric_axis(report: Mapping[str, Any]) -> tuple[str, str, str]:
    """(axis title, plotly tickformat, hover format) for values of the report's metric."""
    metric = _metric_name(report)
    if metric == "top2box":
        return "Top-2-box share", ".2~%", ".1%"
    if metric == "nps":
        return "NPS (points, −100 to +100)", "", "+.1f"
    scale = _scale(report)
    span = f" ({scale[0]:g}–{scale[1]:g} scale)" if scale else ""
    return f"Mean score{span}", "", ".2f"


def _value(value: float | None, report: Mapping[str, Any]) -> str:
    return format_value(value, _metric_name(report))


def _span(low: float | None, high: float | None, report: Mapping[str, Any]) -> str:
    """An interval in the metric's units: '92.4 %–95.7 %', NPS '−50.0 to +100.0'."""
    joiner = " to " if _metric_name(report) == "nps" else "–"
    return f"{_value(low, report)}{joiner}{_value(high, report)}"


def _pct(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{100 * share:.{digits}f} %"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _names(items: Sequence[str], limit: int = 3) -> str:
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _duration(seconds: float) -> str:
    """A lag as a reader says it: 45 s, 33 min, 6.9 h, 2.1 days."""
    s = abs(seconds)
    if s < 90:
        text = f"{s:.0f} s"
    elif s < 90 * 60:
        text = f"{s / 60:.0f} min"
    elif s < 48 * 3600:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} days"
    return ("−" if seconds < 0 else "") + text


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "column"


def _layout(fig: go.Figure, title: str, *, height: int = 420, **extra: Any) -> go.Figure:
    """Common look: white template, title above the plot, legend at the bottom of the figure.

    Title and legend both push the margins (automargin), so neither overlaps the plot, the
    axis titles or each other however many legend rows the width forces.
    """
    fig.update_layout(template=TEMPLATE,
                      title={"text": title, "x": 0, "xanchor": "left", "automargin": True, "yref": "paper",
                             "y": 1, "yanchor": "bottom", "pad": {"b": 12}},
                      height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                              "xanchor": "left", "x": 0},
                      font={"size": 13}, **extra)
    return fig


def _reference_line(fig: go.Figure, name: str, *, x: float | None = None, y: float | None = None,
                    colour: str = "black", dash: str = "dash", width: float = 1.5) -> None:
    """A vertical (x) or horizontal (y) reference line across the plot, named in the legend.

    The line is a layout shape (it spans categorical axes edge to edge); an empty trace of the
    same style carries its name into the legend, where a label cannot collide with the data.
    """
    line = {"color": PALETTE[colour], "dash": dash, "width": width}
    if x is not None:
        fig.add_vline(x=x, line=line)
    else:
        fig.add_hline(y=y, line=line)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, line=line, hoverinfo="skip"))


def _rows_height(rows: int) -> int:
    """Height for a horizontal chart with `rows` categories: 22 px a row, at least 420 px."""
    return max(420, 22 * rows + 170)


def _unit_noun(report: Mapping[str, Any]) -> str:
    column = (report.get("audit") or {}).get("unit_column") or (report.get("claim") or {}).get("unit_column")
    return str(column) if column else "unit"


def _claimed_unit(report: Mapping[str, Any]) -> str | None:
    """The unit a best_unit claim names (None for other claims)."""
    claim = report.get("claim") or {}
    unit = claim.get("unit")
    return str(unit) if claim.get("type") == "best_unit" and unit is not None else None


def _highlight(report: Mapping[str, Any]) -> tuple[str | None, str]:
    """The unit to highlight on ranking charts and its label: the claimed winner, or the top
    of the league table (which `rank_uncertainty` describes when no unit was claimed)."""
    claimed = _claimed_unit(report)
    if claimed is not None:
        return claimed, "claimed winner"
    ranks = _details(report, "rank_uncertainty") or {}
    unit = ranks.get("claimed_unit")
    return (str(unit), "top of the league table") if unit is not None else (None, "")


# --------------------------------------------------------------------------------------------
# report page
# --------------------------------------------------------------------------------------------

def score_gauge(report: dict) -> Chart:
    """How credible is the number, on one 0-100 dial with the grade bands A-F?"""
    cred = report.get("credibility") or {}
    score = _num(cred.get("score")) or 0.0
    grade = str(cred.get("grade") or grade_for(score))
    statuses = [c.get("status") for c in report.get("checks") or () if isinstance(c, Mapping)]
    fails, warns = statuses.count("fail"), statuses.count("warn")
    # band letters sit between the boundary numbers, so the dial reads without a legend
    tickvals, ticktext = [0.0], ["0"]
    for lo, hi, letter in GRADE_BANDS:
        tickvals += [(lo + hi) / 2, hi]
        ticktext += [letter, f"{hi:g}"]
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=score,
        number={"suffix": " / 100", "font": {"size": 40}},
        gauge={"axis": {"range": [0, 100], "tickvals": tickvals, "ticktext": ticktext},
               "bar": {"color": PALETTE["black"], "thickness": 0.25},
               "steps": [{"range": [lo, hi], "color": _rgba(GRADE_COLOURS[g], 0.45), "name": g}
                         for lo, hi, g in GRADE_BANDS]}))
    _layout(fig, f"Credibility score: grade {grade}", height=320)
    fig.update_layout(margin={"l": 45, "r": 45, "t": 40, "b": 20})
    takeaway = (f"Score {score:.0f} / 100 (grade {grade}): {_plural(fails, 'check')} failed and "
                f"{warns:,} warned")
    caps = [str(c) for c in cred.get("caps") or ()]
    takeaway += (f"; capped because of: {'; '.join(caps)}." if caps else ".")
    return Chart("score_gauge", "Credibility score", takeaway, fig)


def metric_comparison(report: dict) -> Chart | None:
    """Does the published number match the responses, and what does it become once the
    respondents are weighted back to all interactions?"""
    metric = report.get("metric") or {}
    estimate = _num(metric.get("estimate"))
    if estimate is None:
        return None
    claim = report.get("claim") or {}
    axis_title, tickformat, hover = _metric_axis(report)
    n = metric.get("n")
    unit = _claimed_unit(report)
    period = claim.get("after") if claim.get("type") == "change" else None
    whose = f"{unit}'s responses" if unit else f"Responses ({period})" if period else "Survey responses"
    rows = []   # (label, value, low, high, colour, symbol)
    low, high = _num(metric.get("ci_low")), _num(metric.get("ci_high"))
    # <br>: the labels must leave the plot its width in a half-page column
    rows.append((f"{whose}<br>(n = {n:,})" if isinstance(n, int) else whose, estimate, low, high, "blue", "circle"))
    adjustment = _details(report, "nonresponse_adjustment") or {}
    adjusted = _num(adjustment.get("adjusted"))
    if adjusted is not None:
        n_eff = _num(adjustment.get("effective_n"))
        label = "Weighted to all<br>interactions" + (f"<br>(effective n = {n_eff:,.0f})" if n_eff else "")
        rows.append((label, adjusted, _num(adjustment.get("ci_low")), _num(adjustment.get("ci_high")),
                     "vermillion", "square"))
    # a change claim publishes a difference, not a level: it has no place on this axis
    published = _num(claim.get("value")) if claim.get("type") in ("level", "best_unit", "benchmark") else None
    benchmark = _num(claim.get("benchmark")) if claim.get("type") == "benchmark" else None
    if published is not None:
        rows.insert(0, ("Published", published, None, None, "black", "diamond"))
    if benchmark is not None:
        rows.append(("Benchmark", benchmark, None, None, "grey", "diamond-open"))
    fig = go.Figure()
    for label, value, lo, hi, colour, symbol in rows:
        has_ci = lo is not None and hi is not None
        fig.add_trace(go.Scatter(
            x=[value], y=[label], mode="markers", name=label,
            marker={"color": PALETTE[colour], "size": 14, "symbol": symbol},
            error_x={"type": "data", "array": [hi - value], "arrayminus": [value - lo], "thickness": 3,
                     "width": 8, "color": PALETTE[colour]} if has_ci else None,
            customdata=[[lo, hi]] if has_ci else None,
            hovertemplate=(f"%{{y}}<br>%{{x:{hover}}} (95 % CI %{{customdata[0]:{hover}}} – "
                           f"%{{customdata[1]:{hover}}})<extra></extra>") if has_ci
            else f"%{{y}}<br>%{{x:{hover}}}<extra></extra>"))
    if published is not None:
        fig.add_vline(x=published, line={"color": PALETTE["black"], "dash": "dot", "width": 1})
    labels = [r[0] for r in rows]
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], title=None, type="category")
    fig.update_xaxes(title=axis_title + " (95 % CI)", tickformat=tickformat)
    _layout(fig, "Published, measured and weighted", height=max(300, 80 * len(rows) + 160),
            showlegend=False)
    takeaway = f"The responses give {_value(estimate, report)} (95 % CI {_span(low, high, report)})"
    if published is not None:
        takeaway = f"Published {_value(published, report)}; " + takeaway[0].lower() + takeaway[1:]
    if adjusted is not None:
        a_low, a_high = _num(adjustment.get("ci_low")), _num(adjustment.get("ci_high"))
        takeaway += f"; weighted to all interactions {_value(adjusted, report)} ({_span(a_low, a_high, report)})"
        if published is not None and a_low is not None and a_high is not None:
            inside = a_low <= published <= a_high
            takeaway += (", which includes the published figure" if inside
                         else ", so the published figure lies outside the weighted interval")
        takeaway += "."
    else:
        takeaway += ("; without an interactions table there is no population-weighted figure."
                     if _status(report, "nonresponse_adjustment") == "not_applicable" else ".")
    return Chart("metric_comparison", "Published vs measured vs population-weighted", takeaway, fig)


# --------------------------------------------------------------------------------------------
# response rates page
# --------------------------------------------------------------------------------------------

def _rate_rows(entry: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(level, invited, responded) for every level with at least one invitation."""
    invited, responded = entry.get("invited"), entry.get("responded")
    if not isinstance(invited, Mapping) or not isinstance(responded, Mapping):
        return []
    rows = []
    for level, n in invited.items():
        k = responded.get(level, 0)
        if isinstance(n, int) and isinstance(k, int) and n > 0 and 0 <= k <= n:
            rows.append((str(level), n, k))
    return rows


def _response_rate_chart(column: str, entry: Mapping[str, Any], key: str) -> Chart | None:
    rows = _rate_rows(entry)
    if len(rows) < 2:
        return None
    total_n, total_k = sum(n for _, n, _ in rows), sum(k for _, _, k in rows)
    overall = total_k / total_n
    table = []
    for level, n, k in rows:
        ci = wilson_interval(k, n)           # no FPC: the rate of the process, not of this list
        side = "above" if ci.ci_low > overall else "below" if ci.ci_high < overall else "within"
        table.append((level, n, k, k / n, ci.ci_low, ci.ci_high, side))
    horizontal = len(table) > MANY_LEVELS
    if horizontal:
        # many levels (agents): sorted by rate, highest on top, so the extremes stand out
        table.sort(key=lambda r: (-r[3], r[0]))
    order = [r[0] for r in table]
    groups = (("above", "CI above the overall rate", "blue"), ("within", "CI includes the overall rate", "grey"),
              ("below", "CI below the overall rate", "vermillion"))
    fig = go.Figure()
    for side, name, colour in groups:
        part = [r for r in table if r[6] == side]
        if not part:
            continue
        levels, rates = [r[0] for r in part], [r[3] for r in part]
        error = {"type": "data", "array": [r[5] - r[3] for r in part],
                 "arrayminus": [r[3] - r[4] for r in part], "color": PALETTE["black"], "thickness": 1.2}
        custom = [[r[1], r[2], r[4], r[5]] for r in part]
        hover = ("<b>%{customdata[4]}</b><br>response rate %{customdata[5]:.1%} "
                 "(95 % CI %{customdata[2]:.1%} – %{customdata[3]:.1%})<br>"
                 "%{customdata[1]:,} of %{customdata[0]:,} invited answered<extra></extra>")
        custom = [c + [lv, rt] for c, lv, rt in zip(custom, levels, rates)]
        if horizontal:
            fig.add_trace(go.Bar(x=rates, y=levels, orientation="h", name=name, error_x=error,
                                 marker_color=PALETTE[colour], customdata=custom, hovertemplate=hover))
        else:
            fig.add_trace(go.Bar(x=levels, y=rates, name=name, error_y=error,
                                 marker_color=PALETTE[colour], customdata=custom, hovertemplate=hover))
    label = f"Overall response rate {_pct(overall)}"
    if horizontal:
        _reference_line(fig, label, x=overall)
        fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title=str(column), type="category")
        fig.update_xaxes(title="Response rate among invited interactions (95 % Wilson CI)", tickformat=".0%",
                         rangemode="tozero")
        height = _rows_height(len(table))
    else:
        _reference_line(fig, label, y=overall)
        fig.update_xaxes(categoryorder="array", categoryarray=order, title=str(column), type="category")
        fig.update_yaxes(title="Response rate (95 % CI)", tickformat=".0%", rangemode="tozero")
        height = 420
    title = f"Response rate by {column}"
    _layout(fig, title, height=height, barmode="overlay")
    low, high = min(table, key=lambda r: (r[3], r[0])), max(table, key=lambda r: (r[3], r[0]))
    takeaway = (f"Response rates by {column} range from {_pct(low[3])} ({low[0]}) to {_pct(high[3])} "
                f"({high[0]}) against {_pct(overall)} overall")
    p = _num(entry.get("p_adjusted", entry.get("p_value")))
    v = _num(entry.get("cramers_v"))
    v_text = f"Cramér's V {v:.2f}, " if v is not None else ""
    p_text = "adjusted p < 0.001" if p is not None and p < 0.001 else f"adjusted p = {p:.2g}" if p is not None else ""
    if entry.get("material"):
        takeaway += f": a material skew ({v_text}{p_text})."
    elif p is not None and p < 0.05:
        takeaway += f": beyond chance but small ({v_text}{p_text})."
    elif p is not None:
        takeaway += f": within chance ({p_text})."
    else:
        takeaway += "."
    return Chart(key, title, takeaway, fig)


def response_rate_charts(report: dict) -> list[Chart]:
    """Do response rates differ by channel, agent, region...? One chart per segment column,
    materially skewed columns first."""
    details = _details(report, "response_rate_skew") or {}
    columns = [(c, e) for c, e in details.items() if isinstance(e, Mapping) and _rate_rows(e)]
    # material first, then the strongest association; stable for equal keys
    columns.sort(key=lambda ce: (not ce[1].get("material"), -(_num(ce[1].get("cramers_v")) or 0.0)))
    charts, used = [], set()
    for column, entry in columns:
        key = f"response_rate_{_slug(column)}"
        while key in used:          # two headers that differ only in punctuation
            key += "_"
        chart = _response_rate_chart(str(column), entry, key)
        if chart is not None:
            used.add(key)
            charts.append(chart)
    return charts


# --------------------------------------------------------------------------------------------
# representativeness page
# --------------------------------------------------------------------------------------------

def _asmd_series(report: Mapping[str, Any]) -> list[tuple[str, dict[str, float], str, str]]:
    """(series name, {covariate: ASMD}, colour, symbol) for each comparison available."""
    series = []
    before = (_details(report, "representativeness") or {}).get("asmd")
    if isinstance(before, Mapping):
        series.append(("Respondents vs all interactions, before weighting",
                       {str(k): float(v) for k, v in before.items() if _num(v) is not None}, "vermillion", "circle"))
    after = (_details(report, "nonresponse_adjustment") or {}).get("asmd_after")
    if isinstance(after, Mapping):
        series.append(("Respondents vs all interactions, after weighting",
                       {str(k): float(v) for k, v in after.items() if _num(v) is not None}, "blue", "square"))
    invitation = _details(report, "invitation_selectivity") or {}
    invited = {str(k): float(v["asmd"]) for k, v in invitation.items()
               if isinstance(v, Mapping) and _num(v.get("asmd")) is not None}
    if invited:
        series.append(("Invited vs not-invited interactions", invited, "orange", "diamond"))
    return [s for s in series if s[1]]


def love_plot(report: dict) -> Chart | None:
    """On which covariates do respondents (and invited interactions) differ from the
    population, and does weighting remove the difference? (absolute standardized mean
    differences; 0.1 = negligible, 0.25 = large)"""
    series = _asmd_series(report)
    if not series:
        return None
    covariates = sorted({c for _, values, _, _ in series for c in values})
    first = series[0][1]
    # largest imbalance (in the first available comparison) on top
    covariates.sort(key=lambda c: (-first.get(c, -1.0), c))
    fig = go.Figure()
    for name, values, colour, symbol in series:
        names = [c for c in covariates if c in values]
        fig.add_trace(go.Scatter(x=[values[c] for c in names], y=names, mode="markers", name=name,
                                 marker={"color": PALETTE[colour], "symbol": symbol, "size": 11,
                                         "line": {"width": 1, "color": PALETTE["black"]}},
                                 hovertemplate="%{y}<br>ASMD %{x:.3f}<extra>" + name + "</extra>"))
    for x, label, dash in zip(ASMD_LINES, ("0.1: below is negligible", "0.25: above is large"), ("dot", "dash")):
        _reference_line(fig, label, x=x, colour="grey", dash=dash)
    fig.update_yaxes(categoryorder="array", categoryarray=covariates[::-1], title=None, type="category")
    fig.update_xaxes(title="Absolute standardized mean difference (ASMD, standard deviations)", rangemode="tozero")
    _layout(fig, "Balance of covariates: who answered, who was invited", height=_rows_height(len(covariates)))
    parts = []
    for name, values, _, _ in series:
        top = max(sorted(values), key=lambda c: values[c])
        if name.endswith("before weighting"):
            parts.append(f"before weighting respondents differ most on {top} (ASMD {values[top]:.2f})")
        elif name.endswith("after weighting"):
            parts.append(f"after weighting the largest gap is {values[top]:.2f} ({top})")
        else:
            parts.append(f"invited and not-invited interactions differ most on {top} (ASMD {values[top]:.2f})")
    takeaway = "; ".join(parts)
    takeaway = takeaway[0].upper() + takeaway[1:] + " (0.1 = negligible, 0.25 = large)."
    return Chart("love_plot", "Covariate balance (love plot)", takeaway, fig)


# --------------------------------------------------------------------------------------------
# rankings page
# --------------------------------------------------------------------------------------------

def _funnel_position(entry: Mapping[str, Any] | None) -> str:
    if not entry or not entry.get("level"):
        return "inside the 95 % limits"
    side = str(entry.get("side") or "")
    if (_num(entry.get("level")) or 0) >= 0.99:
        return f"outside the 99.8 % limits ({side})"
    return f"outside the 95 % limits ({side}) but inside the 99.8 %"


def funnel_plot(report: dict) -> Chart | None:
    """Which units lie outside what chance allows for their number of responses?
    (funnel plot, Spiegelhalter 2005: 95 % and 99.8 % control limits around the pooled value)"""
    details = _details(report, "funnel_outliers") or {}
    limits = details.get("limits")
    if not isinstance(limits, Mapping):
        return None
    grid, units = limits.get("grid"), limits.get("units")
    if not isinstance(grid, Mapping) or not isinstance(units, Sequence) or not units:
        return None
    units = [u for u in units if isinstance(u, Mapping) and _num(u.get("rate")) is not None and u.get("n")]
    target = _num(limits.get("target", details.get("target")))
    if not units:
        return None
    axis_title, tickformat, hover = _metric_axis(report)
    fig = go.Figure()
    n_grid = list(grid.get("n") or [])
    for key, name, dash in (("lower_998", "Lower 99.8 % limit", "solid"), ("upper_998", "Upper 99.8 % limit", "solid"),
                            ("lower_95", "Lower 95 % limit", "dash"), ("upper_95", "Upper 95 % limit", "dash")):
        values = grid.get(key)
        if not n_grid or not isinstance(values, Sequence) or len(values) != len(n_grid):
            continue
        level = "99.8 %" if key.endswith("998") else "95 %"
        fig.add_trace(go.Scatter(x=n_grid, y=list(values), mode="lines", name=name, legendgroup=level,
                                 showlegend=key.startswith("upper"),
                                 line={"color": PALETTE["grey"], "dash": dash, "width": 1.5},
                                 hovertemplate=f"{name}<br>n = %{{x}}<br>%{{y:{hover}}}<extra></extra>"))
    if target is not None and n_grid:
        fig.add_trace(go.Scatter(x=[min(n_grid), max(n_grid)], y=[target, target], mode="lines",
                                 name=f"Pooled value {_value(target, report)}",
                                 line={"color": PALETTE["black"], "width": 1.5}, hoverinfo="skip"))
    claimed = _claimed_unit(report)
    if claimed is None and isinstance(details.get("claimed_unit"), Mapping):
        claimed = details["claimed_unit"].get("unit")
        claimed = None if claimed is None else str(claimed)

    def category(u: Mapping[str, Any]) -> str:
        if str(u.get("unit")) == claimed:
            return "claimed"
        level = _num(u.get("level"))
        return "none" if not level else "alarm" if level >= 0.99 else "alert"

    groups = (("none", "Inside the 95 % limits", "sky_blue", "circle", 8),
              ("alert", "Outside the 95 % limits", "orange", "triangle-up", 11),
              ("alarm", "Outside the 99.8 % limits", "vermillion", "x", 12),
              ("claimed", f"{claimed} (claimed winner)", "black", "star", 18))
    for cat, name, colour, symbol, size in groups:
        part = [u for u in units if category(u) == cat]
        if not part:
            continue
        labelled = cat != "none"       # outliers and the claimed unit carry their name
        fig.add_trace(go.Scatter(
            x=[int(u["n"]) for u in part], y=[float(u["rate"]) for u in part],
            mode="markers+text" if labelled else "markers", name=name,
            text=[str(u.get("unit")) for u in part], textposition="top center",
            marker={"color": PALETTE[colour], "symbol": symbol, "size": size,
                    "line": {"width": 1, "color": PALETTE["black"]}},
            hovertemplate=f"<b>%{{text}}</b><br>n = %{{x:,}}<br>value %{{y:{hover}}}<extra></extra>"))
    fig.update_xaxes(title=f"Responses per {_unit_noun(report)} (n)")
    fig.update_yaxes(title=axis_title, tickformat=tickformat)
    _layout(fig, f"Funnel plot by {_unit_noun(report)}: who is outside the control limits?", height=480)
    outliers = [o for o in details.get("outliers") or () if isinstance(o, Mapping)]
    k998 = sum(1 for o in outliers if (_num(o.get("level")) or 0) >= 0.99)
    k95 = len(outliers)
    total = len(units)
    parts = []
    if claimed is not None:
        entry = next((u for u in units if str(u.get("unit")) == claimed), None)
        if entry is not None:
            parts.append(f"{claimed} is {_funnel_position(entry)}")
    parts.append(f"{k998 or 'none'} of the {total} units {'is' if k998 <= 1 else 'are'} outside the 99.8 % limits "
                 f"and {k95 or 'none'} outside the 95 % limits (about {0.05 * total:.1f} expected by chance)")
    takeaway = "; ".join(parts) + "."
    return Chart("funnel", "Funnel plot", takeaway[0].upper() + takeaway[1:], fig)


def _rank_units(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    units = (_details(report, "rank_uncertainty") or {}).get("units")
    if not isinstance(units, Sequence):
        return []
    ok = [u for u in units if isinstance(u, Mapping) and u.get("unit") is not None
          and _num(u.get("rank")) is not None and isinstance(u.get("rank_ci"), Sequence) and len(u["rank_ci"]) == 2
          and all(_num(v) is not None for v in u["rank_ci"])]
    return sorted(ok, key=lambda u: (u["rank"], -(_num(u.get("raw")) or 0.0), str(u["unit"])))


def _segments(units: Sequence[Mapping[str, Any]], key: str) -> tuple[list, list]:
    """One line trace drawing a [low, high] segment per unit (None breaks the line)."""
    xs, ys = [], []
    for u in units:
        interval = u.get(key)
        if isinstance(interval, Sequence) and len(interval) == 2:
            xs += [interval[0], interval[1], None]
            ys += [str(u["unit"]), str(u["unit"]), None]
    return xs, ys


def rank_whiskers(report: dict) -> Chart | None:
    """How sure are we of each unit's rank? (95 % confidence sets for ranks, Mogstad et al.
    2024: marginal for one unit, simultaneous for all at once)"""
    units = _rank_units(report)
    if not units:
        return None
    total = len(units)
    highlight, role = _highlight(report)
    shown = units[:MAX_RANK_ROWS]
    if highlight is not None and all(str(u["unit"]) != highlight for u in shown):
        shown += [u for u in units if str(u["unit"]) == highlight]
    fig = go.Figure()
    others = [u for u in shown if str(u["unit"]) != highlight]
    special = [u for u in shown if str(u["unit"]) == highlight]
    for part, colour, suffix in ((others, "sky_blue", ""), (special, "vermillion", f" — {highlight}")):
        if not part:
            continue
        xs, ys = _segments(part, "rank_ci")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="95 % rank interval (marginal)" + suffix,
                                 line={"color": PALETTE[colour], "width": 9}, showlegend=not suffix,
                                 opacity=0.8, hoverinfo="skip"))
        # thin and on top, so that it shows where it extends the marginal interval
        xs, ys = _segments(part, "rank_ci_simultaneous")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="Simultaneous 95 % rank set" + suffix,
                                 line={"color": PALETTE["black"], "width": 1.5}, showlegend=not suffix,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=[u["rank"] for u in part], y=[str(u["unit"]) for u in part], mode="markers",
            name=f"{highlight} ({role})" if suffix else "Estimated rank",
            marker={"color": PALETTE["black"] if not suffix else PALETTE["vermillion"],
                    "symbol": "star" if suffix else "circle", "size": 14 if suffix else 8,
                    "line": {"width": 1, "color": PALETTE["black"]}},
            customdata=[[u["rank_ci"][0], u["rank_ci"][1], u.get("n"), _num(u.get("p_best"))] for u in part],
            hovertemplate=("<b>%{y}</b><br>rank %{x} (95 % interval %{customdata[0]}–%{customdata[1]})"
                           "<br>n = %{customdata[2]}<br>P(best) %{customdata[3]:.1%}<extra></extra>")))
    order = [str(u["unit"]) for u in shown]
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title=None, type="category")
    fig.update_xaxes(title=f"Rank among {total} {_unit_noun(report)} values (1 = best)", range=[0.5, total + 0.5])
    _layout(fig, "How certain is each rank?", height=_rows_height(len(shown)))
    parts = []
    entry = next((u for u in units if str(u["unit"]) == highlight), None)
    if entry is not None:
        lo, hi = entry["rank_ci"]
        who = f"{highlight}" if role == "claimed winner" else f"The top of the league table, {highlight},"
        parts.append(f"{who} ranks {ordinal(int(entry['rank']))} of {total}, but its 95 % rank interval runs from "
                     f"{ordinal(int(lo))} to {ordinal(int(hi))}")
    could = sum(1 for u in units if u.get("could_be_best"))
    if any("could_be_best" in u for u in units):
        parts.append(f"{_plural(could, 'unit')} could be the best")
    if len(shown) < total:
        parts.append(f"showing the {MAX_RANK_ROWS} best-ranked of {total}"
                     + (f" plus {highlight}" if len(shown) > MAX_RANK_ROWS else ""))
    if not parts:
        parts.append(f"{total} units ranked")
    takeaway = "; ".join(parts) + "."
    return Chart("rank_whiskers", "Rank confidence intervals", takeaway, fig)


def shrinkage_plot(report: dict) -> Chart | None:
    """How much of each unit's score is luck of a small sample? (raw vs empirical-Bayes
    shrunken score: small units are pulled toward the overall value)"""
    units = [u for u in _rank_units(report) if _num(u.get("raw")) is not None and _num(u.get("shrunken")) is not None]
    if not units:
        return None
    highlight, role = _highlight(report)
    axis_title, tickformat, hover = _metric_axis(report)
    values = [float(u["raw"]) for u in units] + [float(u["shrunken"]) for u in units]
    lo, hi = min(values), max(values)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="No shrinkage (raw = shrunken)",
                             line={"color": PALETTE["grey"], "dash": "dash", "width": 1}, hoverinfo="skip"))
    prior = (_details(report, "rank_uncertainty") or {}).get("prior") or {}
    prior_mean = _num(prior.get("prior_mean")) if isinstance(prior, Mapping) else None
    if prior_mean is not None:
        fig.add_trace(go.Scatter(x=[lo, hi], y=[prior_mean, prior_mean], mode="lines",
                                 name=f"Overall value the scores shrink toward ({_value(prior_mean, report)})",
                                 line={"color": PALETTE["black"], "dash": "dot", "width": 1}, hoverinfo="skip"))
    n_max = max(int(u.get("n") or 1) for u in units)
    hovertemplate = (f"<b>%{{text}}</b><br>n = %{{customdata[0]:,}}<br>raw %{{x:{hover}}} (rank "
                     f"%{{customdata[2]}})<br>shrunken %{{y:{hover}}} (rank %{{customdata[3]}})"
                     f"<br>P(best) %{{customdata[1]:.1%}}<extra></extra>")

    def custom(part: list[Mapping[str, Any]]) -> list[list]:
        return [[u.get("n"), _num(u.get("p_best")), u.get("rank"), u.get("shrunken_rank")] for u in part]

    others = [u for u in units if str(u["unit"]) != highlight]
    if others:
        fig.add_trace(go.Scatter(
            x=[float(u["raw"]) for u in others], y=[float(u["shrunken"]) for u in others], mode="markers",
            name=f"{_unit_noun(report)} (area ~ responses)", text=[str(u["unit"]) for u in others],
            marker={"color": PALETTE["blue"], "opacity": 0.7, "size": [int(u.get("n") or 1) for u in others],
                    # area proportional to n; the largest unit is 30 px across whatever the sample size
                    "sizemode": "area", "sizeref": 2.0 * n_max / 30 ** 2, "sizemin": 4,
                    "line": {"width": 1, "color": PALETTE["black"]}},
            customdata=custom(others), hovertemplate=hovertemplate))
    special = [u for u in units if str(u["unit"]) == highlight]
    if special:
        # fixed size: a small claimed unit must stay visible (its n is in the hover)
        fig.add_trace(go.Scatter(
            x=[float(u["raw"]) for u in special], y=[float(u["shrunken"]) for u in special],
            mode="markers+text", textposition="top center", name=f"{highlight} ({role})",
            text=[str(u["unit"]) for u in special],
            marker={"color": PALETTE["vermillion"], "symbol": "star", "size": 18,
                    "line": {"width": 1, "color": PALETTE["black"]}},
            customdata=custom(special), hovertemplate=hovertemplate))
    fig.update_xaxes(title=f"{axis_title} as observed (raw)", tickformat=tickformat)
    fig.update_yaxes(title=f"{axis_title}, shrunken for sample size", tickformat=tickformat)
    _layout(fig, "Raw vs shrunken scores", height=480)
    raw = [float(u["raw"]) for u in units]
    shrunk = [float(u["shrunken"]) for u in units]
    takeaway = f"Allowing for sample size, the {len(units)} units' scores "
    if _value(min(shrunk), report) == _value(max(shrunk), report):
        takeaway += f"all become about {_value(min(shrunk), report)}"
    else:
        takeaway += f"span {_span(min(shrunk), max(shrunk), report)}"
    takeaway += f" instead of {_span(min(raw), max(raw), report)}"
    entry = next((u for u in units if str(u["unit"]) == highlight), None)
    if entry is not None and _num(entry.get("shrunken_rank")) is not None:
        takeaway += (f"; {highlight} goes from {_value(float(entry['raw']), report)} (n = {entry.get('n')}, "
                     f"{ordinal(int(entry['rank']))}) to {_value(float(entry['shrunken']), report)} "
                     f"({ordinal(int(entry['shrunken_rank']))})")
    return Chart("shrinkage", "Shrinkage toward the overall score", takeaway + ".", fig)


def p_best_bars(report: dict) -> Chart | None:
    """Which unit is truly the best, and how likely? (posterior probability of being best,
    with and without shrinkage for sample size)"""
    units = [u for u in _rank_units(report) if _num(u.get("p_best")) is not None]
    if not units:
        return None
    units.sort(key=lambda u: (-float(u["p_best"]), u["rank"], str(u["unit"])))
    shown = [u for u in units if float(u["p_best"]) >= P_BEST_MIN]
    if len(shown) < P_BEST_TOP:
        shown = units[:P_BEST_TOP]
    shown = shown[:MAX_RANK_ROWS]
    highlight, role = _highlight(report)
    names = [str(u["unit"]) for u in shown]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[float(u["p_best"]) for u in shown], y=names, orientation="h", name="P(best), allowing for sample size",
        marker={"color": [PALETTE["vermillion"] if n == highlight else PALETTE["blue"] for n in names],
                "pattern": {"shape": ["/" if n == highlight else "" for n in names]}},
        customdata=[[u.get("n"), _num(u.get("raw"))] for u in shown],
        hovertemplate="<b>%{y}</b><br>P(best) %{x:.1%}<br>n = %{customdata[0]}<extra></extra>"))
    flat = [(str(u["unit"]), float(u["p_best_flat"])) for u in shown if _num(u.get("p_best_flat")) is not None]
    if flat:
        fig.add_trace(go.Scatter(x=[f for _, f in flat], y=[n for n, _ in flat], mode="markers",
                                 name="P(best), taking each score at face value",
                                 marker={"color": PALETTE["orange"], "symbol": "diamond", "size": 10,
                                         "line": {"width": 1, "color": PALETTE["black"]}},
                                 hovertemplate="<b>%{y}</b><br>P(best) at face value %{x:.1%}<extra></extra>"))
    _reference_line(fig, "90 %: a clear winner", x=P_BEST_CLEAR, colour="grey")
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], title=None, type="category")
    fig.update_xaxes(title="Probability of being the best", tickformat=".0%", range=[0, 1])
    _layout(fig, "Probability of being the best", height=_rows_height(len(shown)))
    top = shown[0]
    takeaway = f"The most likely best unit, {top['unit']}, has a {_pct(float(top['p_best']))} chance of truly being best"
    if float(top["p_best"]) < P_BEST_CLEAR:
        takeaway = (f"No unit is clearly best: the most likely, {top['unit']}, has a "
                    f"{_pct(float(top['p_best']))} chance")
    if highlight is not None and highlight != str(top["unit"]):
        entry = next((u for u in units if str(u["unit"]) == highlight), None)
        if entry is not None:
            takeaway += f"; {highlight} ({role}) has {_pct(float(entry['p_best']))}"
    many = sum(1 for u in units if float(u["p_best"]) >= P_BEST_MIN)
    takeaway += f"; {many} of the {len(units)} units have at least {_pct(P_BEST_MIN, 0)}."
    return Chart("p_best", "Probability of being the best", takeaway, fig)


# --------------------------------------------------------------------------------------------
# integrity page
# --------------------------------------------------------------------------------------------

def _responses_total(report: Mapping[str, Any]) -> int | None:
    inputs = (report.get("inputs") or {}).get("responses") or {}
    for key in ("rows_used", "rows"):
        if isinstance(inputs.get(key), int) and inputs[key] > 0:
            return inputs[key]
    return None


def _count(value: Any) -> int | None:
    """A non-negative whole count, or None."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return int(value) if ok else None


def _flagged(report: Mapping[str, Any], check_id: str) -> tuple[int, int | None, str] | None:
    """(flagged rows, responses examined, what was flagged) of one response-level check, or
    None when its details do not hold the count."""
    d = _details(report, check_id)
    if d is None:
        return None
    total = _responses_total(report)

    def sub(key: str) -> Mapping[str, Any]:
        return d[key] if isinstance(d.get(key), Mapping) else {}

    if check_id == "duplicate_responses":
        kinds = [_count(v) for v in sub("duplicates").values()]
        if not kinds or None in kinds:
            return None
        return (sum(kinds), total, "extra copies: a repeated response id, a re-answered interaction, a repeat "
                                   "rater or an identical row (kinds may overlap)")
    if check_id == "near_duplicates":
        flagged = _count(d.get("flagged_rows"))
        examined = _count(sub("max_percent_match").get("responses_compared")) or total
        return None if flagged is None else (flagged, examined,
                                             "responses in clusters of near-identical answers within one unit")
    if check_id == "timing_anomalies":
        early = _count(sub("before_interaction").get("count"))
        if early is None:
            return None
        bursts = [_count(b.get("count")) or 0 for b in d.get("bursts") or () if isinstance(b, Mapping)]
        return (early + sum(bursts), _count(sub("lags").get("n")) or total,
                "responses submitted before their interaction or inside a burst")
    examined = _count(d.get("responses")) or total
    if check_id == "straightlining":
        mid = sub("midscale")
        if mid.get("applies") and _count(mid.get("count")) is not None:
            # all-top grids are what genuine CSAT looks like: the middle answer is the signal
            return _count(mid.get("count")), examined, "the same middle answer to every item"
        flagged = _count(d.get("count"))
        return None if flagged is None else (flagged, examined, "the same answer to every item")
    if check_id == "speeding":
        flagged, threshold = _count(d.get("count")), _num(d.get("threshold_s"))
        what = f"completed in under {threshold:.0f} s" if threshold is not None else "implausibly fast completions"
        return None if flagged is None else (flagged, examined, what)
    return None


INTEGRITY_LABELS = {"duplicate_responses": "Duplicates", "near_duplicates": "Copied answers",
                    "timing_anomalies": "Timing", "straightlining": "Straight-lining", "speeding": "Speeding"}


def integrity_overview(report: dict) -> Chart | None:
    """How many responses does each response-level integrity check flag, and which fail?"""
    rows = []   # (label, status, count, share, what)
    for check_id in INTEGRITY_CHECKS:
        status = _status(report, check_id)
        if status is None:
            continue
        flagged = _flagged(report, check_id)
        if flagged is None:
            rows.append((INTEGRITY_LABELS[check_id], status, None, None,
                         "not applicable" if status == "not_applicable" else "no count reported"))
            continue
        count, total, what = flagged
        share = count / total if isinstance(total, int) and total > 0 else None
        rows.append((INTEGRITY_LABELS[check_id], status, count, share, what))
    if not any(r[2] is not None for r in rows):
        return None
    order = [r[0] for r in rows]
    fig = go.Figure()
    for status, name in (("fail", "fail"), ("warn", "warning"), ("pass", "pass"), ("not_applicable", "not applicable")):
        part = [r for r in rows if r[1] == status]
        if not part:
            continue
        fig.add_trace(go.Bar(
            x=[r[0] for r in part], y=[r[3] or 0.0 for r in part], name=name, marker_color=PALETTE[status],
            text=[f"{r[2]:,} ({_pct(r[3])})" if r[2] is not None and r[3] is not None
                  else f"{r[2]:,}" if r[2] is not None else "n/a" for r in part],
            textposition="outside", customdata=[[r[4], name] for r in part],
            hovertemplate="<b>%{x}</b>: %{customdata[1]}<br>%{text} flagged<br>%{customdata[0]}<extra></extra>"))
    fig.update_xaxes(categoryorder="array", categoryarray=order, title="Response-level check", type="category")
    fig.update_yaxes(title="Share of responses flagged", tickformat=".2~%", rangemode="tozero")
    _layout(fig, "Response-level integrity checks", barmode="overlay")
    counted = [r for r in rows if r[2] is not None]
    worst = max(counted, key=lambda r: (r[3] if r[3] is not None else -1.0, r[2]))
    failed = [r[0] for r in rows if r[1] == "fail"]
    ran = sum(1 for r in rows if r[1] != "not_applicable")
    which = f"{ran} response-level checks" + (" that ran" if ran < len(rows) else "")
    takeaway = (f"{len(failed)} of the {which} fail ({', '.join(failed)})" if failed
                else f"None of the {which} fails")
    takeaway += (f"; {worst[0].lower()} flags the most responses: {worst[2]:,}"
                 + (f" ({_pct(worst[3])})" if worst[3] is not None else "") + ".")
    return Chart("integrity_overview", "Response-level integrity checks", takeaway, fig)


def max_percent_match_histogram(report: dict) -> Chart | None:
    """How closely does each respondent's answer pattern match another's? (maximum percent
    match, Kuriakose & Robbins 2016; high matches are common in skewed CSAT and are judged
    only as clusters within a unit)"""
    d = _details(report, "near_duplicates") or {}
    mpm = d.get("max_percent_match")
    if not isinstance(mpm, Mapping) or not isinstance(mpm.get("histogram"), Mapping):
        return None
    bins = []
    for key, count in mpm["histogram"].items():
        try:
            value = float(key)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and isinstance(count, int):
            bins.append((value, count))
    if not bins:
        return None
    bins.sort()
    threshold = _num(mpm.get("threshold")) or 0.85
    items = mpm.get("items")
    width = 0.8 / items if isinstance(items, int) and items > 0 else 0.02
    fig = go.Figure()
    for above, name, colour in ((False, f"below {_pct(threshold, 0)}", "sky_blue"),
                                (True, f"at or above {_pct(threshold, 0)}", "orange")):
        part = [(v, c) for v, c in bins if (v >= threshold - 1e-9) == above]
        if part:
            fig.add_trace(go.Bar(x=[v for v, _ in part], y=[c for _, c in part], name=name, width=width,
                                 marker_color=PALETTE[colour],
                                 hovertemplate="max match %{x:.0%}<br>%{y:,} respondents<extra></extra>"))
    _reference_line(fig, f"{_pct(threshold, 0)} match threshold", x=threshold)
    fig.update_xaxes(title="Highest share of items on which a respondent matches another respondent",
                     tickformat=".0%")
    fig.update_yaxes(title="Respondents")
    _layout(fig, "Answer-pattern matches between respondents", barmode="overlay")
    share = _num(mpm.get("share_at_or_above_threshold"))
    if share is None:
        total = sum(c for _, c in bins)
        share = sum(c for v, c in bins if v >= threshold - 1e-9) / total if total else None
    takeaway = f"{_pct(share)} of respondents match another on at least {_pct(threshold, 0)} of the"
    takeaway += f" {items} items" if isinstance(items, int) else " items"
    null = _num(mpm.get("column_permutation_null_share"))
    if null is not None:
        takeaway += f" ({_pct(null)} if answers were shuffled between respondents)"
    clusters = [c for c in d.get("flagged") or () if isinstance(c, Mapping)]
    takeaway += (f"; {_plural(len(clusters), 'cluster')} of copied patterns within one unit "
                 f"({_plural(int(d.get('flagged_rows') or 0), 'response')})." if clusters
                 else "; no pattern repeats within one unit beyond chance.")
    return Chart("max_percent_match", "Near-duplicate answer patterns", takeaway, fig)


def response_lag_chart(report: dict) -> Chart | None:
    """How long after the interaction do customers answer, overall and per unit, and how
    many answered before it happened? (log scale, hours)"""
    d = _details(report, "timing_anomalies") or {}
    lags = d.get("lags")
    if not isinstance(lags, Mapping) or not isinstance(lags.get("quantiles"), Mapping):
        return None
    q = {str(k): _num(v) for k, v in lags["quantiles"].items()}
    needed = ("0.25", "0.5", "0.75")
    if any(q.get(k) is None for k in needed):
        return None
    clipped = False

    def hours(seconds: float) -> float:
        nonlocal clipped
        h = seconds / 3600
        if h <= LAG_FLOOR_H:
            clipped = clipped or h < LAG_FLOOR_H
            return LAG_FLOOR_H
        return h

    overall_name = "All responses"
    low = q.get("0.05") if q.get("0.05") is not None else q["0.25"]
    high = q.get("0.95") if q.get("0.95") is not None else q["0.75"]
    fig = go.Figure()
    fig.add_trace(go.Box(
        y=[overall_name], q1=[hours(q["0.25"])], median=[hours(q["0.5"])], q3=[hours(q["0.75"])],
        lowerfence=[hours(low)], upperfence=[hours(high)], orientation="h",
        name="All responses (box: middle half; whiskers: 5 %–95 %)", marker_color=PALETTE["black"],
        fillcolor=_rgba("grey", 0.35), line={"color": PALETTE["black"]}))
    per_unit = lags.get("per_unit") if isinstance(lags.get("per_unit"), Mapping) else {}
    units = sorted(((str(u), v) for u, v in per_unit.items() if isinstance(v, Mapping)
                    and all(_num(v.get(k)) is not None for k in ("q25", "median", "q75"))),
                   key=lambda uv: (uv[1]["median"], uv[0]))
    if units:
        fig.add_trace(go.Box(
            y=[u for u, _ in units], q1=[hours(v["q25"]) for _, v in units],
            median=[hours(v["median"]) for _, v in units], q3=[hours(v["q75"]) for _, v in units],
            lowerfence=[hours(v["q25"]) for _, v in units], upperfence=[hours(v["q75"]) for _, v in units],
            orientation="h", name=f"Per {_unit_noun(report)} (middle half of its responses)",
            marker_color=PALETTE["blue"], fillcolor=_rgba("sky_blue", 0.5), line={"color": PALETTE["blue"]}))
    order = [overall_name] + [u for u, _ in units]
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title=None, type="category")
    axis = "Time from the interaction to the survey response (log scale)"
    if clipped:
        axis += "; responses before the interaction drawn at 1 min"
    drawn = [v for trace in fig.data for v in list(trace.lowerfence) + list(trace.upperfence)]
    # durations a reader knows, instead of log-axis digits
    ticks = [(h, t) for h, t in LAG_TICKS if min(drawn) / 2 <= h <= max(drawn) * 2]
    fig.update_xaxes(type="log", title=axis, tickvals=[h for h, _ in ticks], ticktext=[t for _, t in ticks])
    _layout(fig, "Response lag after the interaction", height=_rows_height(len(order)))
    before = d.get("before_interaction") if isinstance(d.get("before_interaction"), Mapping) else {}
    early = before.get("count")
    share = _num(before.get("share"))
    takeaway = f"Half of the responses arrive within {_duration(q['0.5'])} of the interaction"
    if q.get("0.95") is not None:
        takeaway += f" and 95 % within {_duration(q['0.95'])}"
    if isinstance(early, int):
        takeaway += (f"; {early:,} ({_pct(share)}) were submitted before their interaction."
                     if early else "; none was submitted before its interaction.")
    else:
        takeaway += "."
    if isinstance(early, int) and early:
        # negative lags have no place on a log axis: they are counted in the legend instead
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip",
                                 name=f"{early:,} responses ({_pct(share)}) submitted before their interaction",
                                 marker={"color": PALETTE["vermillion"], "symbol": "x", "size": 10}))
    return Chart("response_lag", "Response lag", takeaway, fig)


def suspect_units_chart(report: dict) -> Chart | None:
    """Which units show signs of survey begging or gaming, and which signs? (units with two
    or more independent signals are suspects; one signal puts a unit on a watch list)"""
    d = _details(report, "score_inflation") or {}
    signals = [str(s) for s in d.get("signals_tested") or ()]
    untestable = [str(s) for s in d.get("signals_not_testable") or () if str(s) not in signals]
    rows: list[tuple[str, str, list[str], str]] = []   # (unit, role, fired signals, evidence)
    seen: set[str] = set()
    for key, role in (("suspect_units", "suspect"), ("watch_list", "watch list")):
        for entry in d.get(key) or ():
            if isinstance(entry, Mapping) and entry.get("unit") is not None and str(entry["unit"]) not in seen:
                seen.add(str(entry["unit"]))
                rows.append((str(entry["unit"]), role, [str(s) for s in entry.get("signals") or ()],
                             str(entry.get("evidence") or "")))
    claimed = d.get("claimed_unit")
    if isinstance(claimed, Mapping) and claimed.get("unit") is not None and str(claimed["unit"]) not in seen:
        rows.append((str(claimed["unit"]), "claimed winner", [str(s) for s in claimed.get("signals") or ()], ""))
    columns = signals + untestable + sorted({s for r in rows for s in r[2]} - set(signals) - set(untestable))
    if not rows or not columns:
        return None
    labels = [f"{u} ({role})" for u, role, _, _ in rows]
    names = [SIGNAL_LABELS.get(s, s.replace("_", " ")) for s in columns]
    z, text = [], []
    for _, _, fired, _ in rows:
        z.append([None if s in untestable else (1 if s in fired else 0) for s in columns])
        text.append(["not testable" if s in untestable else ("fired" if s in fired else "no") for s in columns])
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=labels, text=text, texttemplate="%{text}", textfont={"color": PALETTE["black"]},
        zmin=0, zmax=1, showscale=False, xgap=3, ygap=3,
        colorscale=[[0.0, _rgba("grey", 0.15)], [0.5, _rgba("grey", 0.15)], [0.5, PALETTE["vermillion"]],
                    [1.0, PALETTE["vermillion"]]],
        hovertemplate="<b>%{y}</b><br>%{x}: %{text}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], type="category", title=None, showgrid=False)
    fig.update_xaxes(title=None, type="category", tickangle=-30, showgrid=False)
    _layout(fig, "Signs of survey begging or gaming per unit", height=max(320, 45 * len(rows) + 230), showlegend=False)
    suspects = [u for u, role, _, _ in rows if role == "suspect"]
    watch = [u for u, role, _, _ in rows if role == "watch list"]
    parts = [f"{_plural(len(suspects), 'unit')} show two or more independent signals of gaming "
             f"({_names(suspects)})" if suspects else "No unit shows two or more independent signals of gaming"]
    if watch:
        parts.append(f"{len(watch)} show{'s' if len(watch) == 1 else ''} one ({_names(watch)}: watch list, "
                     f"not an accusation)")
    if rows[-1][1] == "claimed winner":
        fired = rows[-1][2]
        parts.append(f"the claimed winner {rows[-1][0]} shows "
                     + (f"{_plural(len(fired), 'signal')} ({_names(fired)})" if fired else "none"))
    return Chart("suspect_units", "Signs of gaming per unit", "; ".join(parts) + ".", fig)


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------

_PAGE_CHARTS: Mapping[str, tuple[Callable[[dict], Chart | None | list[Chart]], ...]] = MappingProxyType({
    "report": (score_gauge, metric_comparison),
    "response_rates": (response_rate_charts,),
    "representativeness": (love_plot,),
    "rankings": (funnel_plot, rank_whiskers, shrinkage_plot, p_best_bars),
    "integrity": (integrity_overview, suspect_units_chart, max_percent_match_histogram, response_lag_chart),
})


def charts_for_page(report: dict, page: str) -> list[Chart]:
    """The charts a page shows, in order, leaving out those the report cannot support.

    Raises ValueError for a page not in :data:`PAGES`.
    """
    if page not in _PAGE_CHARTS:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    charts: list[Chart] = []
    for build in _PAGE_CHARTS[page]:
        result = build(report)
        if isinstance(result, list):
            charts.extend(result)
        elif result is not None:
            charts.append(result)
    return charts


def all_charts(report: dict) -> list[Chart]:
    """Every chart the report supports, in page order (the HTML export draws these)."""
    return [chart for page in PAGES for chart in charts_for_page(report, page)]
