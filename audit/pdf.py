"""The executive page of an audit as a PDF (reportlab): score and grade on a drawn grade
scale, the verdict, the three key findings, the number with its intervals, the caps, the
inputs and every check's status.

Deterministic: the same report gives byte-identical PDF bytes (reportlab's `invariant`
mode fixes the creation date and document id). User text is escaped for reportlab's
paragraph markup, and characters the embedded Vera font lacks (Greek, arrows, check marks,
CJK, Cyrillic, ...) are set in a fallback font instead of crashing or vanishing.
"""
from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from audit.render import STATUS_COLOURS, STATUS_LABELS, metric_rows, report_document
from audit.scoring import GRADE_BANDS

if TYPE_CHECKING:
    from audit.pipeline import AuditReport

FONT, FONT_BOLD = "Vera", "VeraBd"
CJK_FONT = "STSong-Light"            # Adobe's CID font: not embedded, covers CJK, Cyrillic, Greek
SHA_PREFIX = 12
MAX_TEXT = 1000                      # characters of one text (a 100,000-character unit name is cut)
PAGE_MARGIN = 14 * mm
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#cccccc")
BAND_GREYS = ("#f0f0f0", "#e0e0e0", "#d0d0d0", "#c0c0c0", "#b0b0b0")
STATUS_TEXT = {"pass": "PASS", "warn": "WARNING", "fail": "FAIL", "not_applicable": "N/A"}


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    """Bitstream Vera ships inside reportlab (embedded, Unicode); the CID font is built in."""
    for name, file in ((FONT, "Vera.ttf"), (FONT_BOLD, "VeraBd.ttf"), ("VeraIt", "VeraIt.ttf"),
                       ("VeraBI", "VeraBI.ttf")):
        pdfmetrics.registerFont(TTFont(name, file))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic="VeraIt", boldItalic="VeraBI")
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


@lru_cache(maxsize=4096)
def _font_for(char: str) -> str | None:
    """The font to set `char` in: None for Vera (the paragraph's own font), else a fallback."""
    if ord(char) < 128 or ord(char) in pdfmetrics.getFont(FONT).face.charToGlyph:
        return None
    for font, codec in (("Symbol", "symbol"), ("ZapfDingbats", "zapfdingbats")):
        try:
            char.encode(codec)
            return font
        except (UnicodeError, LookupError):
            continue
    return CJK_FONT


def markup(text: Any) -> str:
    """User text as safe reportlab paragraph markup: XML-escaped, at most MAX_TEXT characters
    (a paragraph in a table cell must fit one page), with runs of characters Vera lacks
    wrapped in a fallback font."""
    _register_fonts()
    text = "" if text is None else str(text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1] + "…"
    runs: list[tuple[str | None, str]] = []
    for char in text:
        font = _font_for(char)
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return "".join(escape(run) if font is None else f'<font name="{font}">{escape(run)}</font>'
                   for font, run in runs)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=12.5, textColor=INK, alignment=TA_LEFT)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=17, leading=20, spaceAfter=1),
        "claim": ParagraphStyle("claim", base, fontName=FONT_BOLD, fontSize=12.5, leading=16, spaceAfter=1),
        "muted": ParagraphStyle("muted", base, fontSize=8.5, leading=11, textColor=MUTED),
        "h2": ParagraphStyle("h2", base, fontName=FONT_BOLD, fontSize=11, leading=14, spaceBefore=6, spaceAfter=2),
        "big": ParagraphStyle("big", base, fontName=FONT_BOLD, fontSize=26, leading=28),
        "verdict": ParagraphStyle("verdict", base, fontName=FONT_BOLD, fontSize=10, leading=12.5),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=10.5),
        "cell_right": ParagraphStyle("cell_right", base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
        "cell_bold": ParagraphStyle("cell_bold", base, fontName=FONT_BOLD, fontSize=8.5, leading=10.5),
        "finding": ParagraphStyle("finding", base, fontSize=8.8, leading=11, leftIndent=12, firstLineIndent=-12, spaceAfter=2),
    }


def score_bar(score: int, width: float, height: float = 14) -> Drawing:
    """Grade bands F-A on a 0-100 scale, labelled, with a marker at the score (readable in
    black and white: the bands are grey steps with their letters, the marker is black)."""
    top_pad, bottom_pad = 9, 11
    drawing = Drawing(width, height + top_pad + bottom_pad)
    y = bottom_pad
    for (low, high, letter), grey in zip(GRADE_BANDS, BAND_GREYS):
        x0, x1 = width * low / 100, width * high / 100
        drawing.add(Rect(x0, y, x1 - x0, height, fillColor=colors.HexColor(grey), strokeColor=INK, strokeWidth=0.5))
        drawing.add(String((x0 + x1) / 2, y + height / 2 - 3, letter, fontName=FONT_BOLD, fontSize=8,
                           textAnchor="middle", fillColor=INK))
        drawing.add(String(x0, 1, str(low), fontName=FONT, fontSize=6.5, textAnchor="start" if low == 0 else "middle",
                           fillColor=MUTED))
    drawing.add(String(width, 1, "100", fontName=FONT, fontSize=6.5, textAnchor="end", fillColor=MUTED))
    x = width * max(0, min(100, score)) / 100
    drawing.add(Line(x, y - 3, x, y + height + 3, strokeColor=colors.black, strokeWidth=2))
    tip = min(max(x, 4), width - 4)                 # keep the pointer inside the drawing
    drawing.add(Polygon([tip - 4, y + height + 9, tip + 4, y + height + 9, x, y + height + 3],
                        fillColor=colors.black, strokeColor=colors.black, strokeWidth=0))
    return drawing


def _status_cell(status: str, styles: Mapping[str, ParagraphStyle]) -> Paragraph:
    return Paragraph(STATUS_TEXT[status], styles["cell_bold"])


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True,
           extra: list[tuple] | None = None) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT", repeatRows=1 if header else 0)
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 3),
             ("RIGHTPADDING", (0, 0), (-1, -1), 3), ("TOPPADDING", (0, 0), (-1, -1), 2),
             ("BOTTOMPADDING", (0, 0), (-1, -1), 2), ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE)]
    if header:
        style.append(("LINEBELOW", (0, 0), (-1, 0), 0.8, INK))
    table.setStyle(TableStyle(style + (extra or [])))
    return table


def _checks_table(d: Mapping[str, Any], s: Mapping[str, ParagraphStyle], width: float) -> Table:
    """Every check with its status (written out and coloured) and deduction, in two columns."""
    deductions = d["credibility"].get("deductions") or {}
    checks = d["checks"]
    half = (len(checks) + 1) // 2
    head = [Paragraph("<b>status</b>", s["cell"]), Paragraph("<b>check</b>", s["cell"]),
            Paragraph("<b>points</b>", s["cell_right"])]
    rows: list[list[Any]] = [head + [""] + head]
    extra: list[tuple] = []
    for r in range(half):
        row: list[Any] = []
        for column, index in enumerate((r, r + half)):
            if column:
                row.append("")
            if index >= len(checks):
                row += ["", "", ""]
                continue
            c = checks[index]
            points = deductions.get(c["id"])
            row += [_status_cell(c["status"], s), Paragraph(markup(c["title"]), s["cell"]),
                    Paragraph(markup(f"−{points}") if points else "", s["cell_right"])]
            extra.append(("BACKGROUND", (4 * column, r + 1), (4 * column, r + 1),
                          colors.HexColor(STATUS_COLOURS[c["status"]])))
        rows.append(row)
    gap = 5 * mm
    side = (width - gap) / 2
    widths = [19 * mm, side - 34 * mm, 15 * mm]
    extra.append(("LINEBELOW", (3, 0), (3, -1), 0, colors.white))
    return _table(rows, widths + [gap] + widths, extra=extra)


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7)
    canvas.setFillColor(MUTED)
    canvas.drawString(PAGE_MARGIN, 9 * mm, "Survey & award credibility audit - executive summary")
    canvas.drawRightString(A4[0] - PAGE_MARGIN, 9 * mm, f"page {doc.page}")
    canvas.restoreState()


def executive_pdf(report: AuditReport | Mapping[str, Any]) -> bytes:
    """The executive page of the audit as PDF bytes (A4). Same report -> identical bytes."""
    _register_fonts()
    d = report_document(report)
    cred, metric, claim = d["credibility"], d["metric"], d["claim"]
    s = _styles()
    width = A4[0] - 2 * PAGE_MARGIN
    by_id = {c["id"]: c for c in d["checks"]}
    story: list[Any] = [
        Paragraph("Credibility audit", s["title"]),
        Paragraph(markup(claim.get("title")), s["claim"]),
        Paragraph(markup(f"{claim.get('type')} claim, metric {metric['name']}"), s["muted"]),
        Spacer(1, 6),
    ]
    headline = Table(
        [[Paragraph(f"{int(cred['score'])}<font size='11'> / 100</font>", s["big"]),
          Paragraph(markup(cred["grade"]), s["big"]),
          Paragraph(markup(cred["verdict"]), s["verdict"])],
         [Paragraph("credibility score", s["muted"]), Paragraph("grade", s["muted"]), ""]],
        colWidths=[34 * mm, 18 * mm, width - 52 * mm], hAlign="LEFT")
    headline.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("SPAN", (2, 0), (2, 1)),
                                  ("LEFTPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    bands = ", ".join(f"{letter} ≥ {low}" for low, _, letter in reversed(GRADE_BANDS) if low)
    story += [headline, Spacer(1, 4), score_bar(int(cred["score"]), width), Spacer(1, 3),
              Paragraph(markup(f"Score {int(cred['score'])} of 100, grade {cred['grade']} ({bands}, F below)."),
                        s["muted"])]

    story.append(Paragraph("Key findings", s["h2"]))
    findings = [by_id[i] for i in cred.get("key_findings", []) if i in by_id]
    if findings:
        for n, c in enumerate(findings, 1):
            story.append(Paragraph(
                f"{n}. <b>{markup(c['title'])}</b> ({STATUS_LABELS[c['status']]}): {markup(c['summary'])}",
                s["finding"]))
    else:
        story.append(Paragraph("No check raised a warning or a failure.", s["base"]))

    rows = [[Paragraph("", s["cell"]), Paragraph("<b>value</b>", s["cell"]), Paragraph("<b>95 % CI</b>", s["cell"]),
             Paragraph("", s["cell"])]]
    rows += [[Paragraph(markup(label), s["cell_bold"]), Paragraph(markup(value), s["cell"]),
              Paragraph(markup(ci), s["cell"]), Paragraph(markup(note), s["muted"])]
             for label, value, ci, note in metric_rows(d)]
    story += [Paragraph("The number", s["h2"]), _table(rows, [68 * mm, 24 * mm, 38 * mm, width - 130 * mm])]

    caps = cred.get("caps") or []
    story.append(Spacer(1, 3))
    story.append(Paragraph(
        "<b>Score capped because:</b> " + markup("; ".join(caps)) + "." if caps else "No cap applied to the score.",
        s["base"]))

    story += [KeepTogether([Paragraph("All checks", s["h2"]), _checks_table(d, s, width)])]

    rows = [[Paragraph(f"<b>{h}</b>", s["cell"]) for h in ("input", "file", "rows", "sha256")]]
    for role, block in d["inputs"].items():
        if not block:
            continue
        rows.append([Paragraph(markup(role), s["cell"]), Paragraph(markup(block.get("name") or ""), s["cell"]),
                     Paragraph(f"{block.get('rows', 0):,}", s["cell"]),
                     Paragraph(markup(str(block.get("sha256", ""))[:SHA_PREFIX] + "…"), s["cell"])])
    audit = d["audit"]
    story += [KeepTogether([
        Paragraph("Inputs", s["h2"]), _table(rows, [25 * mm, width - 85 * mm, 22 * mm, 38 * mm]),
        Paragraph(markup(f"Engine {audit['engine_version']}, seed {audit['seed']}, schema {d['schema_version']}. "
                         "Methods and the scoring rubric: METHODOLOGY.md; every finding: report.html / report.json."),
                  s["muted"])])]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=PAGE_MARGIN, rightMargin=PAGE_MARGIN,
                            topMargin=PAGE_MARGIN, bottomMargin=PAGE_MARGIN + 2 * mm, invariant=1,
                            title="Credibility audit", author="Survey & award credibility auditor",
                            subject=str(claim.get("title") or ""), creator="audit.pdf")
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()
