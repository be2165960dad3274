"""Exports of a report: report.json (SPEC), findings.csv (one row per check) and a
self-contained report.html. Everything user-supplied is neutralised for spreadsheets
(OWASP CSV injection) and escaped for HTML."""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from audit.headline import format_p, format_points, format_value
from audit.scoring import GRADE_BANDS

if TYPE_CHECKING:
    import pandas as pd

    from audit.pipeline import AuditReport

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
FINDINGS_COLUMNS = ("id", "status", "title", "summary", "statistic", "p_value", "effect_size", "details")


def report_document(report: AuditReport | Mapping[str, Any]) -> Mapping[str, Any]:
    """report.json's dict: an AuditReport is converted (`AuditReport.to_dict`), a dict
    already converted passes through, so that several outputs share one conversion."""
    return report if isinstance(report, Mapping) else report.to_dict()


def report_json(report: AuditReport | Mapping[str, Any]) -> str:
    """SPEC report.json: deterministic (same inputs -> byte-identical text)."""
    return json.dumps(report_document(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not execute: text starting with = + - @ tab or CR
    gets a leading apostrophe (OWASP); plain numbers are left as numbers."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else (json.dumps(value, ensure_ascii=False, sort_keys=False)
                                                  if isinstance(value, (dict, list)) else str(value))
    if text.startswith(FORMULA_TRIGGERS) and not _NUMBER.match(text):
        return "'" + text
    return text


def to_csv(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    """CSV text with every cell neutralised (used for all CSV exports and downloads)."""
    buffer = io.StringIO()
    # Every cell quoted (OWASP): a spreadsheet whose list separator is ";" (most of Europe)
    # would otherwise split an unquoted "a;=1+1" into a second cell starting with "=", and a
    # bare "\r" (which QUOTE_MINIMAL leaves unquoted) would end the row
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in [header, *rows]:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def _missing(value: Any) -> bool:
    """None, NaN, NaT and pd.NA (scalars only): written as an empty cell, as pandas does."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd
        return bool(pd.api.types.is_scalar(value) and pd.isna(value))
    except (TypeError, ValueError):
        return False


def frame_csv(frame: pd.DataFrame) -> str:
    """Any DataFrame as spreadsheet-safe CSV: header and every cell through `safe_cell`
    (the index is not written; missing values are empty cells)."""
    header = [str(c) for c in frame.columns]
    rows = ([None if _missing(v) else v for v in row] for row in frame.itertuples(index=False, name=None))
    return to_csv(rows, header)


def findings_csv(report: AuditReport | Mapping[str, Any]) -> str:
    rows = []
    for check in report_document(report)["checks"]:
        rows.append([check[c] for c in FINDINGS_COLUMNS])
    return to_csv(rows, FINDINGS_COLUMNS)


# ---------------------------------------------------------------------------------------
# report.html

# Okabe & Ito (2008) colour-blind-safe palette; the status is always written out as well.
STATUS_COLOURS = {"pass": "#009E73", "warn": "#E69F00", "fail": "#D55E00", "not_applicable": "#BBBBBB"}
STATUS_LABELS = {"pass": "pass", "warn": "warning", "fail": "fail", "not_applicable": "not applicable"}
STATUS_SYMBOLS = {"pass": "✓", "warn": "!", "fail": "✗", "not_applicable": "–"}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

e = html.escape


def _fmt_number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _units(value: Any, limit: int = 8) -> str:
    """A list of units (strings or {'unit': ...} records) as 'A18, A37 (+3 more)'."""
    if not isinstance(value, (list, tuple)):
        return _fmt_number(value)
    if not value:
        return "none"
    names = [str(v.get("unit", v)) if isinstance(v, Mapping) else str(v) for v in value]
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _counts(value: Any) -> str:
    """{'reason': count} as 'reason 3; other 1' (zero counts left out)."""
    if not isinstance(value, Mapping):
        return _fmt_number(value)
    parts = [f"{k} {_fmt_number(v)}" for k, v in value.items() if not isinstance(v, (Mapping, list)) and v]
    return "; ".join(parts) or "none"


def _get(details: Mapping[str, Any], path: str) -> Any:
    value: Any = details
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


# (label, key path in details or a "|" pair for an interval, kind) per check: the main numbers.
# kinds: num, pct (a share), metric (the metric's scale), points (a difference), p, text,
# units (a list of units), count (length of a list), counts (a {name: count} mapping), range.
KEY_NUMBERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "data_quality": (("rows read", "rows_read", "num"), ("rows used", "rows_used", "num"),
                     ("rows dropped", "rows_dropped", "num"), ("orphan responses", "orphan_responses", "num"),
                     ("drop reasons", "reasons", "counts"), ("flagged rows", "flagged", "counts")),
    "sample_size": (("n", "n", "num"), ("95 % margin of error", "margin_of_error", "points"),
                    ("population size", "population_size", "num"),
                    ("n needed for ±5 points", "n_needed_for_5_points", "num")),
    "response_rate": (("invited", "invited", "num"), ("responded", "responded", "num"),
                      ("response rate", "rate", "pct"), ("95 % CI", "ci_low|ci_high", "pct"),
                      ("share of interactions invited", "invitation_rate", "pct")),
    "invitation_selectivity": (("invited", "model.invited", "num"), ("not invited", "model.not_invited", "num"),
                               ("model AUC (0.5 = random)", "model.auc", "num"),
                               ("likelihood-ratio p", "model.p_value", "p")),
    "representativeness": (("R-indicator", "r_indicator", "num"), ("mean ASMD", "mean_asmd", "num"),
                           ("coefficient of variation", "cv", "num"),
                           ("maximal bias bound", "max_bias_bound", "points"),
                           ("response model p", "model.p_value", "p")),
    "nonresponse_adjustment": (("claimed", "claimed", "metric"), ("population-weighted", "adjusted", "metric"),
                               ("95 % CI", "ci_low|ci_high", "metric"), ("shift", "difference", "points"),
                               ("design effect", "design_effect", "num"), ("effective n", "effective_n", "num"),
                               ("raking converged", "converged", "num")),
    "claim_significance": (("test", "test", "text"), ("estimate", "estimate", "metric"),
                           ("compared with", "reference", "metric"), ("difference", "difference", "points"),
                           ("95 % CI of the difference", "ci_low|ci_high", "points"), ("p-value", "p_value", "p"),
                           ("power", "power", "pct"),
                           ("minimum detectable effect", "minimum_detectable_effect", "points")),
    "rank_uncertainty": (("unit", "claimed_unit", "text"), ("observed rank", "rank", "num"),
                         ("95 % rank confidence set", "rank_ci", "range"),
                         ("rank after shrinkage", "shrunken_rank", "num"), ("P(best)", "p_best", "pct"),
                         ("units that could be best", "indistinguishable_units", "count"),
                         ("units ranked", "units_count", "num")),
    "funnel_outliers": (("pooled target", "target", "metric"), ("overdispersion φ", "phi", "num"),
                        ("units", "units_count", "num"), ("outside 99.8 % limits", "alarms", "num"),
                        ("outside 95 % limits", "alerts", "num"), ("outliers", "outliers", "units")),
    "duplicate_responses": (("duplicates", "duplicates", "counts"),
                            ("customers with several responses", "customers_with_multiple", "num"),
                            ("suspect units", "suspect_units", "units")),
    "near_duplicates": (("share matching another ≥ threshold", "max_percent_match.share_at_or_above_threshold", "pct"),
                        ("items", "max_percent_match.items", "num"), ("grouped by", "grouping", "text"),
                        ("flagged clusters", "flagged", "count"), ("flagged rows", "flagged_rows", "num")),
    "timing_anomalies": (("responses before their interaction", "before_interaction.count", "num"),
                         ("share", "before_interaction.share", "pct"), ("bursts", "bursts", "units"),
                         ("units tested for bursts", "burst_test.units_tested", "num")),
    "straightlining": (("share straight-lining", "share", "pct"), ("respondents", "count", "num"),
                       ("items", "items", "num"), ("same middle answer", "midscale.share", "pct"),
                       ("suspect units", "suspect_units", "units")),
    "speeding": (("share of speeders", "share", "pct"), ("speeders", "count", "num"),
                 ("threshold (s)", "threshold_s", "num"), ("median duration (s)", "median_s", "num"),
                 ("suspect units", "suspect_units", "units")),
    "score_inflation": (("suspect units", "suspect_units", "units"), ("watch list", "watch_list", "units"),
                        ("claimed unit's signals", "claimed_unit.signals", "units"),
                        ("units tested", "units", "num")),
}
# checks whose details hold one record per segment / covariate: (columns of the sub-table)
SEGMENT_TABLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "response_rate_skew": (("χ²", "chi2", "num"), ("dof", "dof", "num"), ("adjusted p", "p_adjusted", "p"),
                           ("Cramér's V", "cramers_v", "num"), ("rate ratio", "rate_ratio", "num"),
                           ("material", "material", "num")),
    "invitation_selectivity": (("largest ASMD", "asmd", "num"),),
}


def _format(value: Any, kind: str, metric: str) -> str | None:
    """The cell text of one number, or None when there is nothing to show."""
    if value is None:
        return None
    try:
        if kind == "pct":
            return f"{100 * float(value):.1f} %"
        if kind == "metric":
            return format_value(float(value), metric)
        if kind == "points":
            return format_points(float(value), metric)
        if kind == "p":
            return format_p(float(value))
        if kind == "units":
            return _units(value)
        if kind == "count":
            return _fmt_number(len(value)) if isinstance(value, (list, tuple, Mapping)) else _fmt_number(value)
        if kind == "counts":
            return _counts(value)
        if kind == "range" and isinstance(value, (list, tuple)) and len(value) == 2:
            return f"{_fmt_number(value[0])} to {_fmt_number(value[1])}"
        if isinstance(value, (Mapping, list, tuple)):
            return None
        return _fmt_number(value)
    except (TypeError, ValueError):
        return str(value)


def key_numbers(check: Mapping[str, Any], metric: str) -> list[tuple[str, str]]:
    """(label, value) pairs of a check's main numbers, for the report and the PDF."""
    details = check.get("details") or {}
    rows: list[tuple[str, str]] = []
    for label, path, kind in KEY_NUMBERS.get(check["id"], ()):
        if "|" in path:
            low, high = (_format(_get(details, p), kind, metric) for p in path.split("|"))
            text = f"{low} – {high}" if low is not None and high is not None else None
        else:
            text = _format(_get(details, path), kind, metric)
        if text is not None:
            rows.append((label, text))
    has_p = any(kind == "p" and _get(details, path) is not None
                for _, path, kind in KEY_NUMBERS.get(check["id"], ()))
    if check.get("p_value") is not None and not has_p:
        rows.append(("p-value", format_p(check["p_value"])))
    if not rows and check["status"] != "not_applicable":
        for label, key in (("statistic", "statistic"), ("effect size", "effect_size")):
            if check.get(key) is not None:
                rows.append((label, _fmt_number(check[key])))
    return rows


def segment_rows(check: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a per-segment sub-table (response-rate skew, invitation selectivity)."""
    columns = SEGMENT_TABLES.get(check["id"])
    details = check.get("details") or {}
    if not columns:
        return [], []
    rows = []
    for name, record in details.items():
        if name == "model" or not isinstance(record, Mapping):
            continue
        cells = [_format(record.get(key), kind, "") for _, key, kind in columns]
        if any(c is not None for c in cells):
            rows.append([str(name)] + [c if c is not None else "" for c in cells])
    return ["segment"] + [label for label, _, _ in columns], rows


def published_text(claim: Mapping[str, Any], metric: str) -> str | None:
    value = claim.get("value")
    if value is None:
        return None
    return format_points(value, metric) if claim.get("type") == "change" else format_value(value, metric)


def metric_rows(d: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, estimate, 95 % CI, note) rows of the executive metric table."""
    metric, claim = d["metric"], d["claim"]
    name = metric["name"]
    rows = [("claimed (responses as they are)", format_value(metric["estimate"], name),
             f"{format_value(metric['ci_low'], name)} – {format_value(metric['ci_high'], name)}",
             f"n = {metric['n']:,}, {metric['ci_method']}")]
    adjustment = next((c for c in d["checks"] if c["id"] == "nonresponse_adjustment"), None)
    if adjustment is not None and adjustment["status"] != "not_applicable" and metric.get("adjusted_estimate") is not None:
        det = adjustment["details"]
        ci = (f"{format_value(det.get('ci_low'), name)} – {format_value(det.get('ci_high'), name)}"
              if det.get("ci_low") is not None and det.get("ci_high") is not None else "n/a")
        eff = det.get("effective_n")
        note = f"effective n = {eff:,.0f}, raking" if isinstance(eff, (int, float)) else "raking"
        rows.append(("population-adjusted (weighted to the interactions)",
                     format_value(metric["adjusted_estimate"], name), ci, note))
    else:
        rows.append(("population-adjusted (weighted to the interactions)", "n/a", "",
                     "needs the interactions table with covariates"))
    published = published_text(claim, name)
    if published is not None:
        what = {"change": f"published change {claim.get('before')} → {claim.get('after')}",
                "best_unit": f"published value for {claim.get('unit')}"}.get(claim.get("type"), "published value")
        rows.append((what, published, "", "as published"))
    if claim.get("benchmark") is not None:
        rows.append(("benchmark", format_value(claim["benchmark"], name), "", "claimed to be beaten"))
    return rows


def _badge(status: str) -> str:
    return (f"<span class='badge status-{e(status)}'><span aria-hidden='true'>{STATUS_SYMBOLS[status]}</span> "
            f"{e(STATUS_LABELS[status])}</span>")


def _score_bar(score: int) -> str:
    bands = "".join(f"<div class='band' style='width:{hi - lo}%'>{letter}</div>" for lo, hi, letter in GRADE_BANDS)
    return (f"<div class='scorebar' role='img' aria-label='score {score} of 100'>{bands}"
            f"<div class='marker' style='left:{max(0, min(100, score))}%'></div></div>"
            "<div class='scale'>" + "".join(f"<span style='left:{lo}%'>{lo}</span>" for lo, _, _ in GRADE_BANDS)
            + "<span style='left:100%'>100</span></div>")


def chart_div_id(key: Any, used: set[str]) -> str:
    """'chart-<key>' reduced to [A-Za-z0-9_-], made unique within the page (deterministic)."""
    base = "chart-" + (re.sub(r"[^A-Za-z0-9_-]+", "_", str(key)).strip("_") or "figure")
    div_id, n = base, 2
    while div_id in used:
        div_id, n = f"{base}-{n}", n + 1
    used.add(div_id)
    return div_id


def chart_sections(d: Mapping[str, Any]) -> list[str]:
    """One <figure> per chart of `audit.figures.all_charts`, plotly.js inlined in the first."""
    try:
        from audit.figures import all_charts
        charts = list(all_charts(d))
    except Exception as exc:  # a drawing bug must not cost the analyst the report itself
        return [f"<p class='note'>The charts could not be drawn ({e(type(exc).__name__)}: {e(str(exc))}).</p>"]
    sections, used = [], set()
    for i, chart in enumerate(charts):
        div_id = chart_div_id(chart.key, used)
        # plotly writes div_id unescaped into the page and its script: only [A-Za-z0-9_-] here
        div = chart.figure.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=div_id,
                                   config=PLOTLY_CONFIG, default_width="100%", default_height="420px")
        # typed script tags: a bare "<script>" in the page can then only be unescaped user text
        div = div.replace("<script>", "<script type=\"text/javascript\">")
        sections.append(f"<figure class='chart' id='figure-{div_id}'>"
                        f"<figcaption><strong>{e(str(chart.title))}</strong><br>"
                        f"<span class='takeaway'>{e(str(chart.takeaway))}</span></figcaption>{div}</figure>")
    return sections


_CSS = """
:root { --pass: #009E73; --warn: #E69F00; --fail: #D55E00; --na: #BBBBBB; --ink: #1a1a1a; --muted: #555; --rule: #dcdcdc; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 2rem auto; max-width: 62rem; padding: 0 1rem; color: var(--ink); line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; }
.claim { font-size: 1.25rem; margin: .2rem 0 1rem; }
.muted, small { color: var(--muted); }
.exec { border: 1px solid var(--rule); border-radius: 8px; padding: 1rem 1.5rem; }
.headline { display: flex; flex-wrap: wrap; gap: 2rem; align-items: center; }
.big { font-size: 3rem; font-weight: 700; line-height: 1; }
.verdict { flex: 1 1 20rem; font-size: 1.1rem; font-weight: 600; margin: 0; }
.scorebar { position: relative; display: flex; height: 1.6rem; margin: 1rem 0 .1rem; border: 1px solid var(--ink);
            -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.band { text-align: center; font-weight: 700; font-size: .85rem; line-height: 1.6rem; border-right: 1px solid var(--ink); }
.band:nth-child(1) { background: #f0f0f0; } .band:nth-child(2) { background: #e0e0e0; } .band:nth-child(3) { background: #d0d0d0; }
.band:nth-child(4) { background: #c0c0c0; } .band:nth-child(5) { background: #b0b0b0; border-right: 0; }
.marker { position: absolute; top: -.45rem; bottom: -.45rem; width: 0; border-left: 3px solid var(--ink); margin-left: -1.5px; }
.scale { position: relative; height: 1rem; font-size: .75rem; color: var(--muted); }
.scale span { position: absolute; transform: translateX(-50%); }
.scale span:first-child { transform: none; } .scale span:last-child { transform: translateX(-100%); }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; }
td, th { border-bottom: 1px solid var(--rule); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; color: #000; border: 1px solid #000; border-radius: 4px; padding: 0 .4rem;
         font-size: .85rem; font-weight: 700; white-space: nowrap; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.badge.status-pass { background: var(--pass); } .badge.status-warn { background: var(--warn); }
.badge.status-fail { background: var(--fail); } .badge.status-not_applicable { background: var(--na); }
.findings { padding-left: 1.2rem; } .findings li { margin: .5rem 0; }
.check { border-left: 6px solid var(--na); padding: .2rem 0 .2rem .9rem; margin: 1.2rem 0; }
.check.status-pass { border-left-color: var(--pass); } .check.status-warn { border-left-color: var(--warn); }
.check.status-fail { border-left-color: var(--fail); } .check.status-not_applicable { border-left-color: var(--na); }
.check h3 { margin: .2rem 0; font-size: 1.05rem; } .check h3 code { font-weight: 400; font-size: .8rem; color: var(--muted); }
dl.numbers { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .4rem 1rem; margin: .6rem 0; }
dl.numbers div { border-top: 1px solid var(--rule); padding-top: .2rem; }
dl.numbers dt { font-size: .8rem; color: var(--muted); } dl.numbers dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
table.segments { width: auto; min-width: 50%; font-size: .85rem; } table.segments th { font-weight: 400; color: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: .5rem; font-size: .8rem; max-height: 30rem; overflow: auto; }
figure.chart { margin: 1.5rem 0; } figcaption { margin-bottom: .4rem; } .takeaway { color: var(--muted); }
.note { color: var(--muted); font-style: italic; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h2.new-page { break-before: page; page-break-before: always; }
  .exec, .check, figure.chart, dl.numbers, table.segments, tr { break-inside: avoid; page-break-inside: avoid; }
  details, .modebar-container, .modebar { display: none !important; }
  figure.chart, .js-plotly-plot, .plot-container, .svg-container { max-width: 100% !important; }
  a { color: inherit; text-decoration: none; }
}
"""

# Plotly draws at the screen width; redraw at the page width before printing (no user text).
_PRINT_SCRIPT = """<script type="text/javascript">
(function () {
  function fit() { if (!window.Plotly) { return; }
    document.querySelectorAll('.js-plotly-plot').forEach(function (el) { window.Plotly.Plots.resize(el); }); }
  window.addEventListener('beforeprint', fit); window.addEventListener('afterprint', fit);
  if (window.matchMedia) { window.matchMedia('print').addEventListener('change', fit); }
})();
</script>"""


def _key_findings(d: Mapping[str, Any]) -> str:
    by_id = {c["id"]: c for c in d["checks"]}
    items = []
    for check_id in d["credibility"].get("key_findings", []):
        c = by_id.get(check_id)
        if c is None:
            continue
        items.append(f"<li>{_badge(c['status'])} <strong>{e(c['title'])}.</strong> {e(c['summary'])}</li>")
    if not items:
        return "<p>No check raised a warning or a failure.</p>"
    return f"<ol class='findings'>{''.join(items)}</ol>"


def _check_section(c: Mapping[str, Any], metric: str, deductions: Mapping[str, int]) -> str:
    numbers = key_numbers(c, metric)
    table = ""
    if numbers:
        table = ("<dl class='numbers'>" + "".join(
            f"<div><dt>{e(label)}</dt><dd>{e(value)}</dd></div>" for label, value in numbers) + "</dl>")
    header, rows = segment_rows(c)
    if rows:
        table += ("<table class='numbers segments'><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                  + "".join("<tr>" + "".join(f"<td class='num'>{e(v)}</td>" for v in row) + "</tr>" for row in rows)
                  + "</table>")
    points = deductions.get(c["id"])
    deduction = f" <small>(−{points} points)</small>" if points else ""
    details = e(json.dumps(c["details"], indent=2, ensure_ascii=False))
    return (f"<section class='check status-{e(c['status'])}' id='check-{e(c['id'])}'>"
            f"<h3>{_badge(c['status'])} {e(c['title'])} <code>{e(c['id'])}</code>{deduction}</h3>"
            f"<p>{e(c['summary'])}</p>{table}"
            f"<details><summary>all details</summary><pre>{details}</pre></details></section>")


def report_html(report: AuditReport | Mapping[str, Any]) -> str:
    """A self-contained HTML report: executive summary, every check with its main numbers,
    the charts (plotly.js inlined once, nothing loaded from the network), printable.
    Deterministic: the same report gives byte-identical text."""
    d = report_document(report)
    cred, metric, claim = d["credibility"], d["metric"], d["claim"]
    name = metric["name"]
    metric_table = "".join(
        f"<tr><th scope='row'>{e(label)}</th><td class='num'>{e(value)}</td><td class='num'>{e(ci)}</td>"
        f"<td><small>{e(note)}</small></td></tr>" for label, value, ci, note in metric_rows(d))
    caps = cred.get("caps") or []
    caps_html = ("<p><strong>Score capped because:</strong> " + "; ".join(e(c) for c in caps)
                 + ". See the methodology for the rubric.</p>") if caps else "<p>No cap applied to the score.</p>"
    checks = "".join(_check_section(c, name, cred.get("deductions") or {}) for c in d["checks"])
    summary_rows = "".join(
        f"<tr><td>{_badge(c['status'])}</td><td><a href='#check-{e(c['id'])}'>{e(c['title'])}</a></td>"
        f"<td class='num'>{'−' + str(cred['deductions'][c['id']]) if (cred.get('deductions') or {}).get(c['id']) else ''}</td></tr>"
        for c in d["checks"])
    charts = chart_sections(d)
    charts_html = (f"<h2>Charts</h2>{''.join(charts)}" if charts else "")
    input_rows = "".join(
        f"<tr><th scope='row'>{e(k)}</th><td>{e(str(v.get('name') or ''))}</td><td class='num'>{v['rows']:,} rows</td>"
        f"<td><code>{e(str(v['sha256']))}</code></td></tr>"
        for k, v in d["inputs"].items() if v)
    audit = d["audit"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="survey credibility auditor {e(str(audit['engine_version']))}">
<title>Credibility audit: {e(claim['title'])}</title>
<style>{_CSS}</style></head><body>
<header><h1>Credibility audit</h1>
<p class="claim"><strong>{e(claim['title'])}</strong> <small>({e(claim['type'])} claim, {e(name)})</small></p></header>
<section class="exec" aria-label="executive summary">
<div class="headline"><div><div class="big">{cred['score']}<small style="font-size:1rem"> / 100</small></div>credibility score</div>
<div><div class="big">{e(cred['grade'])}</div>grade</div>
<p class="verdict">{e(cred['verdict'])}</p></div>
{_score_bar(int(cred['score']))}
<h3>Key findings</h3>
{_key_findings(d)}
<h3>The number</h3>
<table class="metric"><tr><th></th><th>value</th><th>95 % CI</th><th></th></tr>{metric_table}</table>
{caps_html}
</section>
<h2>All checks at a glance</h2>
<table class="overview"><tr><th>status</th><th>check</th><th>points deducted</th></tr>{summary_rows}</table>
{charts_html}
<h2 class="new-page">Checks</h2>
{checks}
<h2>Inputs</h2>
<table>{input_rows}</table>
<p><small>Engine {e(str(audit['engine_version']))}, seed {e(str(audit['seed']))}, schema {e(d['schema_version'])}.
The scoring rubric and every method are described in METHODOLOGY.md.</small></p>
{_PRINT_SCRIPT if charts else ''}
</body></html>
"""


WRITERS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "json": ("report.json", report_json), "csv": ("findings.csv", findings_csv),
    "html": ("report.html", report_html)}


def write_outputs(report: AuditReport | Mapping[str, Any], out_dir: str | Path,
                  formats: Iterable[str] = ("json", "csv", "html")) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    document = report_document(report)
    for fmt in formats:
        filename, writer = WRITERS[fmt]
        path = out / filename
        path.write_text(writer(document), encoding="utf-8")
        written.append(path)
    return written
