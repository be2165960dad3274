"""What is being audited: the published claim (SPEC `claim.json`).

A claim says which number was published (`value`: the level, or for a `change` claim the
published difference after − before), on which metric and scale, and what it
is compared with: nothing (`level`), a benchmark, an earlier period (`change`) or the other
units (`best_unit`). Without a claim file the audit runs on the headline metric of the whole
file as a `level` claim.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from audit.errors import InputError

CLAIM_TYPES = ("level", "best_unit", "change", "benchmark")
METRICS = ("top2box", "mean", "nps")
METRIC_LABELS = {"top2box": "top-2-box share", "mean": "mean score", "nps": "NPS"}


@dataclass(frozen=True)
class Claim:
    """A validated claim. Proportions are on the 0-1 scale, NPS in points (-100..100)."""

    title: str = ""
    type: str = "level"
    metric: str | None = None            # None until the scale is known (see `with_defaults`)
    scale: tuple[float, float] | None = None
    value: float | None = None
    unit_column: str | None = None
    unit: str | None = None
    period_column: str | None = None
    before: str | None = None
    after: str | None = None
    benchmark: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def with_defaults(self, scale: tuple[float, float]) -> "Claim":
        """Fill the metric (NPS on a 0-10 scale, else top2box) and the scale once known, and
        bring a top-box figure published as a percentage ("95", "+3" points) to the 0-1 scale."""
        metric = self.metric or ("nps" if tuple(scale) == (0, 10) else "top2box")
        title = self.title or f"{METRIC_LABELS[metric]} of all responses"
        value, benchmark = self.value, self.benchmark
        if metric == "top2box":
            value = _as_share(value, "value", difference=self.type == "change")
            benchmark = _as_share(benchmark, "benchmark", difference=False)
        elif metric == "nps":
            _check_nps(value, "value", difference=self.type == "change")
            _check_nps(benchmark, "benchmark", difference=False)
        return Claim(**{**self.__dict__, "metric": metric, "scale": tuple(scale), "title": title,
                        "value": value, "benchmark": benchmark})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "type": self.type, "metric": self.metric}
        if self.scale is not None:
            out["scale"] = list(self.scale)
        for key in ("value", "unit_column", "unit", "period_column", "before", "after", "benchmark"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _as_share(value: float | None, key: str, *, difference: bool) -> float | None:
    """A share published as a percentage (95, or a change of +3 points) on the 0-1 scale."""
    if value is None:
        return None
    if difference:
        if abs(value) > 1:
            value = value / 100.0
        if abs(value) > 1:
            raise InputError(f"a change of {value * 100:g} points in a share is impossible", file="claim",
                             column=key, expected="a change between -1 and 1 (or -100 and 100 points)")
        return value
    if 1 < value <= 100:
        value = value / 100.0
    if not 0 <= value <= 1:
        raise InputError(f"a top-box share of {value:g} is impossible", file="claim", column=key,
                         expected="a share between 0 and 1 (or a percentage)")
    return value


def _check_nps(points: float | None, key: str, *, difference: bool) -> None:
    """An NPS lies in -100..100 points, a change of it in -200..200."""
    limit = 200 if difference else 100
    if points is not None and not -limit <= points <= limit:
        raise InputError(f"an NPS {'change ' if difference else ''}of {points:g} points is impossible", file="claim",
                         column=key, expected=f"points between -{limit} and {limit}")


def strip_json_comments(text: str) -> str:
    """Remove `//` comments outside strings (SPEC's own example carries them)."""
    out, in_string, escaped, i = [], False, False, 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            escaped = (ch == "\\") and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _number(obj: Mapping[str, Any], key: str, name: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"'{key}' must be a number, got {value!r}", file=name, column=key)
    return float(value)


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else str(value)


def _check_text(value: Any, key: str, name: str) -> None:
    """Reject text that is not made of characters: JSON's "\\ud800" escape decodes to half a
    UTF-16 surrogate pair, with which no report could be written."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"'{key}' holds {value[exc.start]!r}, half of a UTF-16 surrogate pair, not a "
                             "character", file=name, column=key, expected="text") from None
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _check_text(k, key, name)
            _check_text(v, f"{key}.{k}" if key else str(k), name)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_text(v, key, name)


def parse_claim(obj: Mapping[str, Any] | None, *, name: str = "claim.json") -> Claim:
    """Validate a claim mapping; raise `InputError` naming the offending key."""
    if obj is None:
        return Claim()
    if not isinstance(obj, Mapping):
        raise InputError("a claim must be a JSON object", file=name)
    _check_text(obj, "", name)
    ctype = obj.get("type", "level")
    if ctype not in CLAIM_TYPES:
        raise InputError(f"unknown claim type {ctype!r}", file=name, column="type",
                         expected=" | ".join(CLAIM_TYPES))
    metric = obj.get("metric")
    if metric is not None and metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}", file=name, column="metric",
                         expected=" | ".join(METRICS))
    scale = obj.get("scale")
    if scale is not None:
        if (not isinstance(scale, (list, tuple)) or len(scale) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
                or scale[0] >= scale[1]):
            raise InputError(f"invalid scale {scale!r}", file=name, column="scale",
                             expected="two numbers [low, high] with low < high, e.g. [1, 5]")
        scale = (float(scale[0]), float(scale[1]))
    if metric == "nps" and scale is not None and scale != (0.0, 10.0):
        raise InputError("NPS is defined on the 0-10 scale", file=name, column="scale", expected="[0, 10]")
    if metric == "nps" and scale is None:
        scale = (0.0, 10.0)   # NPS is defined on 0-10, whatever the observed range
    value = _number(obj, "value", name)
    benchmark = _number(obj, "benchmark", name)
    claim = Claim(
        title=str(obj.get("title") or ""), type=ctype, metric=metric, scale=scale, value=value,
        unit_column=_text(obj, "unit_column"), unit=_text(obj, "unit"),
        period_column=_text(obj, "period_column"), before=_text(obj, "before"),
        after=_text(obj, "after"), benchmark=benchmark, raw=dict(obj),
    )
    required = {"best_unit": ("unit",), "change": ("period_column", "before", "after"),
                "benchmark": ("benchmark",)}.get(ctype, ())
    for key in required:
        if getattr(claim, key) is None:
            raise InputError(f"a '{ctype}' claim needs '{key}'", file=name, column=key)
    return claim


def load_claim(source: str | Path | bytes | Mapping[str, Any] | None, *, name: str | None = None) -> Claim:
    """Read a claim from a path, raw bytes (an upload) or an already-parsed mapping."""
    if source is None or isinstance(source, Mapping):
        return parse_claim(source, name=name or "claim")
    if isinstance(source, (bytes, bytearray)):
        label, raw = name or "claim.json", bytes(source)
    else:
        path = Path(source)
        label = name or path.name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the claim file ({exc.strerror})", file=label) from None
    try:
        text = raw.decode("utf-8-sig")
        obj = json.loads(strip_json_comments(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not valid JSON: {exc.args[0] if exc.args else exc}", file=label,
                         row=line, expected="a JSON object as in SPEC.md") from None
    return parse_claim(obj, name=label)
