"""The claimed number itself: the metric on the claim's responses, with its 95 % interval.

Every metric is the mean of a per-response variable y (`metric_variable`): the top-box
indicator for top2box, the score for mean, +100/0/-100 for NPS (Reichheld 2003). That one
representation lets the weighting checks reweight any metric the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.metrics import Interval, mean_interval, nps_interval, top_box_successes, wilson_interval

CI_METHODS = {"top2box": "wilson", "mean": "t", "nps": "adjusted_wald"}


@dataclass(frozen=True)
class MetricResult:
    """SPEC `metric` block; `estimate` in the metric's units (share 0-1, scale points, NPS points)."""

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    ci_method: str
    n: int
    se: float
    adjusted_estimate: float | None = None
    population_size: int | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "estimate": self.estimate, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "ci_method": self.ci_method, "n": self.n,
                "adjusted_estimate": self.adjusted_estimate, "se": self.se,
                "population_size": self.population_size,
                "finite_population_correction": self.population_size is not None}


def metric_range(metric: str, scale: tuple[float, float]) -> float:
    """Width of the metric's possible range: 1 for a share, the scale for a mean, 200 NPS points."""
    return {"top2box": 1.0, "nps": 200.0}.get(metric, float(scale[1] - scale[0]))


def metric_variable(scores: pd.Series | np.ndarray, metric: str, scale: tuple[float, float]) -> np.ndarray:
    """Per-response y whose mean is the metric (units as in `MetricResult`)."""
    x = np.asarray(scores, dtype=float)
    if metric == "top2box":
        low, high = scale
        threshold = high if high - low <= 1 else high - 1   # a 2-point scale has one top box
        return (x >= threshold).astype(float)
    if metric == "nps":
        return np.where(x >= 9, 100.0, np.where(x <= 6, -100.0, 0.0))
    return x


def metric_interval(scores: pd.Series | np.ndarray, metric: str, scale: tuple[float, float], *,
                    population_size: int | None = None) -> Interval:
    """The metric's estimate and 95 % CI by the method named in CI_METHODS."""
    values = np.asarray(scores, dtype=float)
    values = values[~np.isnan(values)]
    if metric == "top2box":
        k, n = top_box_successes(values, scale)
        return wilson_interval(k, n, population_size=population_size)
    if metric == "nps":
        return nps_interval(values, population_size=population_size)
    if values.size < 2:      # one response: its score, but no spread for an interval
        return Interval(float(values.mean()), np.nan, np.nan, np.nan, int(values.size), CI_METHODS["mean"])
    return mean_interval(values, population_size=population_size)


def headline_metric(scores: pd.Series, metric: str, scale: tuple[float, float], *,
                    population_size: int | None = None) -> MetricResult:
    iv = metric_interval(scores, metric, scale, population_size=population_size)
    return MetricResult(name=metric, estimate=iv.estimate, ci_low=iv.ci_low, ci_high=iv.ci_high,
                        ci_method=CI_METHODS[metric], n=iv.n, se=iv.se, population_size=population_size)


def format_value(value: float | None, metric: str, *, digits: int = 1) -> str:
    """Human form: 0.912 -> '91.2 %', NPS 35.0 -> '35.0', mean 4.21 -> '4.21'."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if metric == "top2box":
        return f"{100 * value:.{digits}f} %"
    if metric == "nps":
        return f"{value:+.{digits}f}"
    return f"{value:.2f}"


def format_points(delta: float, metric: str) -> str:
    """A difference in the metric's natural units: percentage points, NPS points, scale points."""
    if metric == "top2box":
        return f"{100 * delta:.1f} points"
    if metric == "nps":
        return f"{delta:.1f} NPS points"
    return f"{delta:.2f} scale points"


def format_p(p: float | None) -> str:
    """p-values as a reader expects them: 'p < 0.001' rather than 'p = 0'."""
    if p is None or not np.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def ordinal(k: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def level_label(name: str) -> str:
    """A covariate level's dummy name 'channel[chat]' as 'channel = chat'."""
    if name.endswith("]") and "[" in name:
        column, _, level = name[:-1].partition("[")
        return f"{column} = {level}"
    return name
