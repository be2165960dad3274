"""Result objects of the audit: small, frozen, and convertible to the SPEC's JSON keys."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Status = Literal["pass", "warn", "fail", "not_applicable"]
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "not_applicable")


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types.

    Non-finite floats become ``None`` (JSON has no NaN); floats are rounded to 12
    significant digits so that the report is byte-identical across platforms whose
    last-bit floating-point results differ.
    """
    # exact-type fast paths first: reports carry ~10⁶ plain values, and isinstance against
    # the typing ABCs below costs microseconds each
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return float(f"{value:.12g}") if math.isfinite(value) else None
    if kind is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.12g}")
    if hasattr(value, "item"):
        return jsonable(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class CheckResult:
    """One check of the SPEC: its verdict, headline numbers and the details behind them."""

    id: str
    status: Status
    title: str
    summary: str
    statistic: float | None = None
    p_value: float | None = None
    effect_size: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "id": self.id, "status": self.status, "title": self.title, "summary": self.summary,
            "statistic": self.statistic, "p_value": self.p_value,
            "effect_size": self.effect_size, "details": dict(self.details),
        })


def not_applicable(check_id: str, title: str, reason: str, **details: Any) -> CheckResult:
    """A check that cannot run on these inputs; ``reason`` says what is missing."""
    return CheckResult(check_id, "not_applicable", title, reason, details=details)
