"""Exports of a report: report.json (SPEC), findings.csv (one row per check) and a
self-contained report.html. Everything user-supplied is neutralised for spreadsheets
(OWASP CSV injection) and escaped for HTML."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from audit.headline import format_value

if TYPE_CHECKING:
    from audit.pipeline import AuditReport

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
FINDINGS_COLUMNS = ("id", "status", "title", "summary", "statistic", "p_value", "effect_size", "details")


def report_json(report: AuditReport) -> str:
    """SPEC report.json: deterministic (same inputs -> byte-identical text)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def findings_csv(report: AuditReport) -> str:
    rows = []
    for check in report.to_dict()["checks"]:
        rows.append([check[c] for c in FINDINGS_COLUMNS])
    return to_csv(rows, FINDINGS_COLUMNS)


_STATUS_COLOURS = {"pass": "#1b7837", "warn": "#b35806", "fail": "#b2182b", "not_applicable": "#5e5e5e"}
_STATUS_LABELS = {"pass": "pass", "warn": "warning", "fail": "fail", "not_applicable": "not applicable"}


def report_html(report: AuditReport) -> str:
    """A self-contained HTML report (no scripts, no external resources), printable."""
    e = html.escape
    d = report.to_dict()
    cred, metric, claim = d["credibility"], d["metric"], d["claim"]
    name = metric["name"]
    adjusted = metric.get("adjusted_estimate")
    rows = []
    for c in d["checks"]:
        colour = _STATUS_COLOURS[c["status"]]
        details = e(json.dumps(c["details"], indent=2, ensure_ascii=False))
        rows.append(
            f"<tr><td><code>{e(c['id'])}</code></td>"
            f"<td><span class='badge' style='background:{colour}'>{e(_STATUS_LABELS[c['status']])}</span></td>"
            f"<td><strong>{e(c['title'])}</strong><br>{e(c['summary'])}"
            f"<details><summary>details</summary><pre>{details}</pre></details></td></tr>")
    inputs = d["inputs"]
    input_rows = "".join(
        f"<tr><th>{e(k)}</th><td>{e(str(v['name']))}</td><td>{v['rows']:,} rows</td>"
        f"<td><code>{e(str(v['sha256']))}</code></td></tr>"
        for k, v in inputs.items() if v)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Credibility audit: {e(claim['title'])}</title>
<style>
body {{ font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; line-height: 1.45; }}
.score {{ display: flex; gap: 2rem; align-items: center; border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.5rem; }}
.score .big {{ font-size: 3rem; font-weight: 700; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
td, th {{ border-bottom: 1px solid #e5e5e5; padding: .5rem; text-align: left; vertical-align: top; }}
.badge {{ color: #fff; border-radius: 4px; padding: .1rem .45rem; font-size: .85rem; white-space: nowrap; }}
pre {{ white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: .5rem; font-size: .8rem; }}
@media print {{ details {{ display: none; }} body {{ margin: 0; }} }}
</style></head><body>
<h1>Credibility audit</h1>
<p><strong>Claim:</strong> {e(claim['title'])} <small>({e(claim['type'])}, {e(name)})</small></p>
<div class="score"><div><div class="big">{cred['score']}</div>credibility score (0-100)</div>
<div><div class="big">{e(cred['grade'])}</div>grade</div>
<div><p>{e(cred['verdict'])}</p></div></div>
<h2>The number</h2>
<table><tr><th>estimate</th><th>95 % CI ({e(metric['ci_method'])})</th><th>n</th><th>population-weighted</th></tr>
<tr><td>{e(format_value(metric['estimate'], name))}</td>
<td>{e(format_value(metric['ci_low'], name))} – {e(format_value(metric['ci_high'], name))}</td>
<td>{metric['n']:,}</td><td>{e(format_value(adjusted, name))}</td></tr></table>
<h2>Checks</h2>
<table><tr><th>id</th><th>status</th><th>finding</th></tr>
{''.join(rows)}
</table>
<h2>Inputs</h2>
<table>{input_rows}</table>
<p><small>Engine {e(str(d['audit']['engine_version']))}, seed {d['audit']['seed']}, schema {e(d['schema_version'])}.
The scoring rubric and every method are described in METHODOLOGY.md.</small></p>
</body></html>
"""


WRITERS = {"json": ("report.json", report_json), "csv": ("findings.csv", findings_csv),
           "html": ("report.html", report_html)}


def write_outputs(report: AuditReport, out_dir: str | Path, formats: Iterable[str] = ("json", "csv", "html")) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        filename, writer = WRITERS[fmt]
        path = out / filename
        path.write_text(writer(report), encoding="utf-8")
        written.append(path)
    return written
