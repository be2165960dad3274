"""Specification of audit.figures (plotly charts of a report, each with a takeaway) and of
`nonresponse_adjustment`'s ``asmd_after`` (balance after raking, the love plot's third series).

Reports are built once per module: the bundled contact-center sample with its level claim,
with its award claim, without the interactions table, and a simulated NPS award among 50
agents without item columns (more units than the rank chart shows; no near-duplicate check).
Reference numbers come from the report's own details, statsmodels' Wilson interval and Meta's
``balance`` (weighted ASMD).
"""
from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from statsmodels.stats.proportion import proportion_confint

from audit import run_audit
from audit.checks import bias
from audit.data import claim_responses
from audit.aggregates import category_text
from audit.loading import load_population
from audit.figures import (
    PAGES, PALETTE, Chart, all_charts, charts_for_page, funnel_plot, integrity_overview, love_plot,
    max_percent_match_histogram, metric_comparison, p_best_bars, rank_whiskers, response_lag_chart,
    response_rate_charts, score_gauge, shrinkage_plot, suspect_units_chart,
)
from audit.simulation import simulate_contact_center

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "contact_center"
OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
GREY = "#999999"
SINGLE_CHART_BUILDERS = (score_gauge, metric_comparison, love_plot, funnel_plot, rank_whiskers, shrinkage_plot,
                         p_best_bars, integrity_overview, max_percent_match_histogram, response_lag_chart,
                         suspect_units_chart)


# ------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def level_audit():
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def level(level_audit) -> dict:
    return level_audit.to_dict()


@pytest.fixture(scope="module")
def award() -> dict:
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim_award.json").to_dict()


@pytest.fixture(scope="module")
def no_population() -> dict:
    return run_audit(SAMPLE / "responses.csv", None, SAMPLE / "claim.json").to_dict()


@pytest.fixture(scope="module")
def nps_award() -> dict:
    """50 agents on a 0-10 scale, the agent with the highest raw NPS claimed best; no q_* items."""
    sim = simulate_contact_center(np.random.default_rng(5), n_interactions=4000, n_agents=50, scale=(0, 10),
                                  metric="nps", n_items=0)
    scores = sim.responses.groupby("agent_id")["score"].apply(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
    claim = {**sim.claim, "type": "best_unit", "unit_column": "agent_id", "unit": scores.idxmax(),
             "value": round(float(scores.max()), 1)}
    return run_audit(sim.responses, sim.population, claim, n_simulations=2000).to_dict()


@pytest.fixture(scope="module")
def reports(level, award, no_population, nps_award) -> dict[str, dict]:
    return {"level": level, "award": award, "no_population": no_population, "nps_award": nps_award}


@pytest.fixture(scope="module")
def charts(reports) -> dict[str, list[Chart]]:
    return {name: all_charts(report) for name, report in reports.items()}


def details(report: dict, check_id: str) -> dict:
    return next(c for c in report["checks"] if c["id"] == check_id)["details"]


def trace(chart: Chart, name: str):
    return next(t for t in chart.figure.data if t.name == name)


def data_traces(chart: Chart) -> list:
    """Traces that draw data (reference lines' legend entries carry no points)."""
    return [t for t in chart.figure.data if not (t.type == "scatter" and list(t.x or []) == [None])]


def segments(t) -> dict[str, tuple[float, float]]:
    """{category: (start, end)} of a line trace drawing one segment per category."""
    xs, ys = list(t.x), list(t.y)
    return {ys[i]: (xs[i], xs[i + 1]) for i in range(0, len(xs), 3)}


# ------------------------------------------------------------- engine: asmd after raking

def test_asmd_after_weighting_equals_balance_weighted_asmd(level_audit, monkeypatch) -> None:
    logging.getLogger("balance").setLevel(logging.ERROR)
    from balance.stats_and_plots import weighted_comparisons_stats as bal_cmp

    captured = {}
    real_rake = bias.rake

    def recording_rake(*args, **kwargs):
        captured["fit"] = real_rake(*args, **kwargs)
        return captured["fit"]

    monkeypatch.setattr(bias, "rake", recording_rake)
    data = level_audit.data
    result = bias.nonresponse_adjustment(data)
    pop = load_population(SAMPLE / "interactions.csv").frame     # the claim is on every interaction
    cats, nums = bias.usable_covariates(data.population.scope, data)
    linked = claim_responses(data)[["interaction_id"]].merge(pop[["interaction_id"] + cats + nums],
                                                              on="interaction_id", how="inner")

    def design(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: category_text(frame[c]) for c in cats}).assign(
            **{c: frame[c].astype(float) for c in nums})

    # dummies on the union of levels, balance's "col[level]" names
    both = pd.get_dummies(pd.concat([design(linked), design(pop)], ignore_index=True), columns=cats,
                          prefix_sep="[", dtype=float).rename(columns=lambda c: c + "]" if c not in nums else c)
    sample, target = both.iloc[:len(linked)], both.iloc[len(linked):].reset_index(drop=True)
    reference = bal_cmp.asmd(sample.reset_index(drop=True), target,
                             sample_weights=pd.Series(captured["fit"].weights),
                             target_weights=pd.Series(np.ones(len(target))), aggregate_by_main_covar=True)
    after = result.details["asmd_after"]
    assert sorted(after) == sorted(cats + nums)
    for covariate, value in after.items():
        assert value == pytest.approx(float(reference[covariate]), rel=1e-9, abs=1e-12)


def test_asmd_after_weighting_is_below_before_for_every_raked_covariate(level) -> None:
    before = details(level, "representativeness")["asmd"]
    adjustment = details(level, "nonresponse_adjustment")
    raked = adjustment["variables"]
    assert raked
    for covariate in raked:
        assert adjustment["asmd_after"][covariate] < before[covariate]
    # raking matches every categorical margin exactly, so their imbalance vanishes
    assert max(adjustment["asmd_after"][c] for c in raked if c != "handle_time_s") < 1e-6


# ---------------------------------------------------------------------- palette and look

def test_palette_is_okabe_ito_with_status_colours() -> None:
    assert OKABE_ITO <= set(PALETTE.values()) <= OKABE_ITO | {GREY}
    assert (PALETTE["pass"], PALETTE["warn"], PALETTE["fail"], PALETTE["not_applicable"]) == (
        "#009E73", "#E69F00", "#D55E00", GREY)
    with pytest.raises(TypeError):
        PALETTE["pass"] = "#FF0000"  # type: ignore[index]


def _colours(node: Any, key: str = "") -> list[str]:
    """Every colour string in a figure dict (template excluded)."""
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "template":
                found += _colours(v, k)
    elif isinstance(node, (list, tuple)):
        for v in node:
            found += _colours(v, key)
    elif isinstance(node, str) and "color" in key.lower() and (node.startswith("#") or node.startswith("rgb")):
        found.append(node)
    return found


def _hex(colour: str) -> str:
    if colour.startswith("#"):
        return colour.upper()
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", colour)[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def test_every_colour_drawn_comes_from_the_palette(charts) -> None:
    allowed = set(PALETTE.values())
    for chart in charts["level"] + charts["award"]:
        colours = _colours(chart.figure.to_plotly_json())
        assert colours, chart.key
        assert {_hex(c) for c in colours} <= allowed, chart.key


def test_every_figure_uses_plotly_white_and_has_a_title_and_axis_titles(charts) -> None:
    for chart in charts["level"]:
        layout = chart.figure.layout
        assert layout.template == pio.templates["plotly_white"], chart.key
        assert layout.title.text, chart.key
        if chart.figure.data[0].type not in ("indicator", "heatmap"):
            assert layout.xaxis.title.text and (layout.yaxis.title.text or layout.yaxis.type == "category"), chart.key


def test_every_takeaway_is_one_sentence_with_a_number(charts) -> None:
    for name, chart_list in charts.items():
        for chart in chart_list:
            text = chart.takeaway
            assert text and text.endswith("."), (name, chart.key)
            assert re.search(r"\d", text), (name, chart.key)
            assert not re.search(r"\.\s+[A-Z]", text), (name, chart.key, text)


def test_figures_are_deterministic(reports, charts) -> None:
    again = all_charts(copy.deepcopy(reports["award"]))
    assert [c.figure.to_json() for c in again] == [c.figure.to_json() for c in charts["award"]]
    assert [c.takeaway for c in again] == [c.takeaway for c in charts["award"]]


def test_user_supplied_names_are_data_never_templates(award) -> None:
    hostile = "§<i>%{y}</i>§"
    report = json.loads(json.dumps(award).replace('"A07"', json.dumps(hostile)))
    for chart in all_charts(report):
        for t in chart.figure.data:
            for template in ("hovertemplate", "texttemplate"):
                assert hostile not in str(getattr(t, template, None) or ""), (chart.key, template)
    assert hostile in rank_whiskers(report).takeaway


# ------------------------------------------------------------------------- pages and keys

def test_all_charts_are_the_pages_in_order(level, charts) -> None:
    by_page = [c.key for page in PAGES for c in charts_for_page(level, page)]
    assert by_page == [c.key for c in charts["level"]]
    assert PAGES == ("report", "response_rates", "representativeness", "rankings", "integrity")


def test_chart_keys_are_stable_and_unique(charts) -> None:
    keys = [c.key for c in charts["level"]]
    assert len(keys) == len(set(keys))
    assert keys == ["score_gauge", "metric_comparison", "response_rate_channel", "response_rate_agent_id",
                    "response_rate_resolved", "response_rate_repeat_contact", "response_rate_month",
                    "response_rate_region", "love_plot", "funnel", "rank_whiskers", "shrinkage", "p_best",
                    "integrity_overview", "suspect_units", "max_percent_match", "response_lag"]


def test_unknown_page_is_an_error(level) -> None:
    with pytest.raises(ValueError, match="unknown page"):
        charts_for_page(level, "nope")


def test_population_charts_are_absent_without_an_interactions_table(no_population) -> None:
    assert response_rate_charts(no_population) == []
    assert love_plot(no_population) is None
    assert charts_for_page(no_population, "response_rates") == []
    assert charts_for_page(no_population, "representativeness") == []
    chart = metric_comparison(no_population)
    assert [t.name for t in chart.figure.data] == ["Published", "Survey responses<br>(n = 3,078)"]
    assert "no population-weighted figure" in chart.takeaway


def test_missing_details_drop_charts_instead_of_raising(level) -> None:
    emptied = copy.deepcopy(level)
    for check in emptied["checks"]:
        check["details"] = {}
    skipped = copy.deepcopy(level)
    for check in skipped["checks"]:
        check["status"] = "not_applicable"
    for report in (emptied, skipped):
        assert [c.key for c in all_charts(report)] == ["score_gauge", "metric_comparison"]
        assert response_rate_charts(report) == []
        assert all(build(report) is None for build in SINGLE_CHART_BUILDERS[2:])


# --------------------------------------------------------------------------- report page

def test_score_gauge_shows_the_score_on_the_grade_bands(level) -> None:
    chart = score_gauge(level)
    gauge = chart.figure.data[0]
    assert gauge.value == level["credibility"]["score"]
    assert [tuple(s.range) for s in gauge.gauge.steps] == [(0, 40), (40, 55), (55, 70), (70, 85), (85, 100)]
    assert chart.takeaway.startswith(f"Score {level['credibility']['score']} / 100 (grade "
                                     f"{level['credibility']['grade']})")


def test_metric_comparison_rows_are_the_metric_the_weighted_figure_and_the_claim(level) -> None:
    chart = metric_comparison(level)
    metric, adjusted = level["metric"], details(level, "nonresponse_adjustment")
    published, responses, weighted = chart.figure.data
    assert published.x[0] == level["claim"]["value"]
    for t, (value, low, high) in ((responses, (metric["estimate"], metric["ci_low"], metric["ci_high"])),
                                  (weighted, (adjusted["adjusted"], adjusted["ci_low"], adjusted["ci_high"]))):
        assert t.x[0] == value
        assert t.x[0] - t.error_x.arrayminus[0] == pytest.approx(low, abs=1e-12)
        assert t.x[0] + t.error_x.array[0] == pytest.approx(high, abs=1e-12)
    assert chart.figure.layout.xaxis.tickformat.endswith("%")
    assert chart.takeaway == ("Published 96.4 %; the responses give 96.4 % (95 % CI 95.8 %–97.0 %); weighted to all "
                              "interactions 94.1 % (92.4 %–95.7 %), so the published figure lies outside the "
                              "weighted interval.")


def test_metric_comparison_leaves_out_a_published_change(level) -> None:
    report = copy.deepcopy(level)
    report["claim"].update(type="change", value=0.017, after="2026-09")
    names = [t.name for t in metric_comparison(report).figure.data]
    assert "Published" not in names and names[0].startswith("Responses (2026-09)")


def test_nps_is_drawn_in_points_not_percent(nps_award) -> None:
    chart = metric_comparison(nps_award)
    assert chart.figure.layout.xaxis.tickformat in (None, "")
    assert chart.figure.data[1].x[0] == nps_award["metric"]["estimate"]
    assert "+100.0" in chart.takeaway and "%" not in chart.takeaway.split("CI")[1]


# -------------------------------------------------------------------- response rates page

def _bars(chart: Chart) -> dict[str, tuple[float, float, float]]:
    """{level: (rate, ci_low, ci_high)} read back from the bars and their error bars."""
    out = {}
    for t in chart.figure.data:
        if t.type != "bar":
            continue
        horizontal = t.orientation == "h"
        levels, rates = (t.y, t.x) if horizontal else (t.x, t.y)
        error = t.error_x if horizontal else t.error_y
        for i, level in enumerate(levels):
            out[level] = (rates[i], rates[i] - error.arrayminus[i], rates[i] + error.array[i])
    return out


def test_response_rate_bars_are_wilson_intervals_of_the_counts(level) -> None:
    skew = details(level, "response_rate_skew")
    for chart in response_rate_charts(level):
        column = chart.title.removeprefix("Response rate by ")
        entry = skew[column]
        bars = _bars(chart)
        assert sorted(bars) == sorted(entry["invited"])
        for name, (rate, low, high) in bars.items():
            k, n = entry["responded"][name], entry["invited"][name]
            ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
            assert rate == pytest.approx(k / n, rel=1e-12)
            assert (low, high) == (pytest.approx(ref_low, abs=1e-12), pytest.approx(ref_high, abs=1e-12))


def test_response_rate_charts_put_material_columns_first(level) -> None:
    skew = details(level, "response_rate_skew")
    columns = [c.title.removeprefix("Response rate by ") for c in response_rate_charts(level)]
    flags = [bool(skew[c]["material"]) for c in columns]
    assert sorted(columns) == sorted(skew)
    assert flags == sorted(flags, reverse=True) and flags[0]


def test_response_rates_of_many_levels_are_sorted_horizontal_bars(level) -> None:
    chart = next(c for c in response_rate_charts(level) if c.key == "response_rate_agent_id")
    bars = _bars(chart)
    order = list(chart.figure.layout.yaxis.categoryarray)[::-1]       # top of the chart first
    assert all(t.orientation == "h" for t in chart.figure.data if t.type == "bar")
    assert len(order) == len(bars) == 40
    assert [bars[u][0] for u in order] == sorted((b[0] for b in bars.values()), reverse=True)
    assert chart.takeaway.startswith("Response rates by agent_id range from 18.3 % (A08) to 43.9 % (A37)")


def test_response_rate_line_is_the_overall_rate(level) -> None:
    overall = details(level, "response_rate")
    chart = next(c for c in response_rate_charts(level) if c.key == "response_rate_channel")
    (line,) = chart.figure.layout.shapes
    assert line.y0 == line.y1 == pytest.approx(overall["responded"] / overall["invited"], rel=1e-12)
    assert "22.6 % overall" in chart.takeaway


# -------------------------------------------------------------------- representativeness

def test_love_plot_has_three_series_equal_to_the_details(level) -> None:
    chart = love_plot(level)
    expected = {
        "Respondents vs all interactions, before weighting": details(level, "representativeness")["asmd"],
        "Respondents vs all interactions, after weighting": details(level, "nonresponse_adjustment")["asmd_after"],
        "Invited vs not-invited interactions": {c: v["asmd"] for c, v in details(level, "invitation_selectivity").items()
                                                if c != "model"},
    }
    series = data_traces(chart)
    assert [t.name for t in series] == list(expected)
    for t in series:
        assert dict(zip(t.y, t.x)) == expected[t.name]
    assert sorted(s.x0 for s in chart.figure.layout.shapes) == [0.1, 0.25]
    assert "resolved (ASMD 0.44)" in chart.takeaway


def test_love_plot_without_weighting_shows_the_comparisons_that_ran(nps_award) -> None:
    names = [t.name for t in data_traces(love_plot(nps_award))]
    assert names == ["Respondents vs all interactions, before weighting", "Invited vs not-invited interactions"]


# ------------------------------------------------------------------------------ rankings

def test_funnel_limit_traces_equal_the_grid(award) -> None:
    chart = funnel_plot(award)
    grid = details(award, "funnel_outliers")["limits"]["grid"]
    for key, name in (("lower_95", "Lower 95 % limit"), ("upper_95", "Upper 95 % limit"),
                      ("lower_998", "Lower 99.8 % limit"), ("upper_998", "Upper 99.8 % limit")):
        t = trace(chart, name)
        assert list(t.x) == grid["n"] and list(t.y) == grid[key]
    target = trace(chart, "Pooled value 96.4 %")
    assert set(target.y) == {details(award, "funnel_outliers")["limits"]["target"]}


def test_funnel_draws_every_unit_once_at_its_n_and_rate(award) -> None:
    chart = funnel_plot(award)
    units = details(award, "funnel_outliers")["limits"]["units"]
    drawn = [(name, n, rate) for t in chart.figure.data if t.text is not None
             for name, n, rate in zip(t.text, t.x, t.y)]
    assert sorted(drawn) == sorted((u["unit"], u["n"], u["rate"]) for u in units)


def test_funnel_highlights_the_claimed_unit_and_labels_outliers(award) -> None:
    chart = funnel_plot(award)
    claimed = trace(chart, "A07 (claimed winner)")
    assert list(claimed.text) == ["A07"] and claimed.marker.symbol == "star" and "text" in claimed.mode
    outside = trace(chart, "Outside the 95 % limits")
    assert sorted(outside.text) == sorted(o["unit"] for o in details(award, "funnel_outliers")["outliers"])
    assert "text" in outside.mode
    assert chart.takeaway.startswith("A07 is inside the 95 % limits; none of the 40 units is outside the 99.8 % "
                                     "limits and 2 outside the 95 % limits")


def test_rank_whiskers_draw_both_rank_intervals_per_unit(award) -> None:
    chart = rank_whiskers(award)
    units = {u["unit"]: u for u in details(award, "rank_uncertainty")["units"]}
    marginal = segments(trace(chart, "95 % rank interval (marginal)")) | segments(
        trace(chart, "95 % rank interval (marginal) — A07"))
    simultaneous = segments(trace(chart, "Simultaneous 95 % rank set")) | segments(
        trace(chart, "Simultaneous 95 % rank set — A07"))
    assert marginal == {u: tuple(v["rank_ci"]) for u, v in units.items()}
    assert simultaneous == {u: tuple(v["rank_ci_simultaneous"]) for u, v in units.items()}
    claimed = trace(chart, "A07 (claimed winner)")
    assert list(claimed.y) == ["A07"] and list(claimed.x) == [units["A07"]["rank"]]
    assert chart.takeaway.startswith("A07 ranks 1st of 40, but its 95 % rank interval runs from 1st to 40th")


def test_rank_whiskers_show_the_40_best_of_more_units_and_say_so(nps_award) -> None:
    chart = rank_whiskers(nps_award)
    units = sorted(details(nps_award, "rank_uncertainty")["units"], key=lambda u: (u["rank"], -u["raw"], u["unit"]))
    shown = list(chart.figure.layout.yaxis.categoryarray)[::-1]
    assert shown == [u["unit"] for u in units[:40]]
    assert "showing the 40 best-ranked of 50" in chart.takeaway


def test_shrinkage_plot_moves_each_unit_from_raw_to_shrunken(award) -> None:
    chart = shrinkage_plot(award)
    units = {u["unit"]: u for u in details(award, "rank_uncertainty")["units"]}
    drawn = {name: (x, y) for t in chart.figure.data if t.text is not None for name, x, y in zip(t.text, t.x, t.y)}
    assert drawn == {u: (v["raw"], v["shrunken"]) for u, v in units.items()}
    others = trace(chart, "agent_id (area ~ responses)")
    assert list(others.marker.size) == [units[u]["n"] for u in others.text]     # area ~ n
    diagonal = trace(chart, "No shrinkage (raw = shrunken)")
    assert list(diagonal.x) == list(diagonal.y)
    assert "A07 goes from 100.0 % (n = 58, 1st) to 96.4 % (5th)" in chart.takeaway


def test_p_best_bars_show_units_above_1_percent_or_the_top_10(award, nps_award) -> None:
    for report in (award, nps_award):
        units = details(report, "rank_uncertainty")["units"]
        ranked = sorted(units, key=lambda u: (-u["p_best"], u["rank"], u["unit"]))
        likely = [u for u in ranked if u["p_best"] >= 0.01]
        expected = (likely if len(likely) >= 10 else ranked[:10])[:40]
        bars = p_best_bars(report).figure.data[0]
        assert list(bars.y) == [u["unit"] for u in expected]
        assert list(bars.x) == [u["p_best"] for u in expected]
    assert "A07 (claimed winner) has 2.7 %" in p_best_bars(award).takeaway


# ----------------------------------------------------------------------------- integrity

def test_integrity_overview_counts_flagged_rows_coloured_by_status(level) -> None:
    chart = integrity_overview(level)
    total = level["inputs"]["responses"]["rows_used"]
    timing = details(level, "timing_anomalies")
    expected = {
        "Duplicates": sum(details(level, "duplicate_responses")["duplicates"].values()),
        "Copied answers": details(level, "near_duplicates")["flagged_rows"],
        "Timing": timing["before_interaction"]["count"] + sum(b["count"] for b in timing["bursts"]),
        "Straight-lining": details(level, "straightlining")["midscale"]["count"],
        "Speeding": details(level, "speeding")["count"],
    }
    status = {c["id"]: c["status"] for c in level["checks"]}
    ids = dict(zip(expected, ("duplicate_responses", "near_duplicates", "timing_anomalies", "straightlining",
                              "speeding")))
    seen = {}
    for t in chart.figure.data:
        for label, share, text in zip(t.x, t.y, t.text):
            seen[label] = share
            assert t.marker.color == PALETTE[status[ids[label]]]
            assert text.startswith(f"{expected[label]:,} (")
    assert seen == pytest.approx({k: v / total for k, v in expected.items()}, rel=1e-12)
    assert chart.takeaway == ("3 of the 5 response-level checks fail (Duplicates, Timing, Speeding); speeding flags "
                              "the most responses: 244 (7.9 %).")


def test_max_percent_match_histogram_is_the_details_with_the_threshold(level, nps_award) -> None:
    chart = max_percent_match_histogram(level)
    mpm = details(level, "near_duplicates")["max_percent_match"]
    drawn = {x: y for t in data_traces(chart) for x, y in zip(t.x, t.y)}
    assert drawn == {float(k): v for k, v in mpm["histogram"].items()}
    (line,) = chart.figure.layout.shapes
    assert line.x0 == mpm["threshold"] == 0.85
    assert chart.takeaway.startswith("68.3 % of respondents match another on at least 85 % of the 10 items")
    assert max_percent_match_histogram(nps_award) is None       # no q_* items: the check did not run


def test_response_lag_chart_boxes_are_the_quantiles_in_hours(level) -> None:
    chart = response_lag_chart(level)
    lags = details(level, "timing_anomalies")["lags"]
    overall = trace(chart, "All responses (box: middle half; whiskers: 5 %–95 %)")
    q = lags["quantiles"]
    assert (overall.q1[0], overall.median[0], overall.q3[0]) == pytest.approx(
        (q["0.25"] / 3600, q["0.5"] / 3600, q["0.75"] / 3600), rel=1e-12)
    assert (overall.lowerfence[0], overall.upperfence[0]) == pytest.approx((q["0.05"] / 3600, q["0.95"] / 3600))
    assert chart.figure.layout.xaxis.type == "log"
    per_unit = trace(chart, "Per agent_id (middle half of its responses)")
    assert dict(zip(per_unit.y, per_unit.median)) == pytest.approx(
        {u: v["median"] / 3600 for u, v in lags["per_unit"].items()}, rel=1e-12)
    assert chart.takeaway == ("Half of the responses arrive within 33 min of the interaction and 95 % within 6.9 h; "
                              "31 (1.0 %) were submitted before their interaction.")


def test_suspect_units_heat_map_marks_the_signals_that_fired(award) -> None:
    chart = suspect_units_chart(award)
    d = details(award, "score_inflation")
    heat = chart.figure.data[0]
    rows = [(u["unit"], u["signals"]) for u in d["suspect_units"] + d["watch_list"]] + [("A07", [])]
    assert list(heat.y) == [f"{u} (suspect)" for u in ("A18", "A37")] + ["A01 (watch list)", "A07 (claimed winner)"]
    assert [list(r) for r in heat.z] == [[int(s in fired) for s in d["signals_tested"]] for _, fired in rows]
    assert chart.takeaway == ("2 units show two or more independent signals of gaming (A18, A37); 1 shows one "
                              "(A01: watch list, not an accusation); the claimed winner A07 shows none.")
