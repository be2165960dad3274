"""Specification of the award checks `rank_uncertainty` and `funnel_outliers` (METHODS §7)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats.meta_analysis import combine_effects

from audit.checks.awards import (
    ALARM_LEVEL,
    funnel_outliers,
    funnel_status,
    ordinal,
    rank_status,
    rank_uncertainty,
)
from audit.claim import parse_claim
from audit.data import prepare
from audit.loading import load_responses
from audit.ranking import binomial_rank_variances, rank_confidence_sets
from audit.simulation import simulate_contact_center

# METHODS §7: 12 agents, top2box; A01 is the "Customer Service Champion"
N = [20, 150, 80, 200, 45, 120, 60, 90, 30, 175, 55, 110]
Y = [19, 129, 66, 166, 40, 94, 45, 80, 22, 140, 50, 81]
THETA0 = 932 / 1135


def top_box_responses(trials, successes, names=None) -> pd.DataFrame:
    """One row per response: score 5 for the top-box successes, 3 otherwise (1-5 scale)."""
    names = names or [f"A{i + 1:02d}" for i in range(len(trials))]
    rows = []
    for name, n, y in zip(names, trials, successes):
        rows += [(name, 5)] * y + [(name, 3)] * (n - y)
    return pd.DataFrame(rows, columns=["agent_id", "score"])


def audit_data(frame: pd.DataFrame, claim: dict):
    return prepare(load_responses(frame), None, parse_claim({"scale": [1, 5], "metric": "top2box", **claim}))


def award(unit: str) -> dict:
    return {"type": "best_unit", "unit": unit, "unit_column": "agent_id"}


@pytest.fixture(scope="module")
def champion():
    data = audit_data(top_box_responses(N, Y), award("A01"))
    return rank_uncertainty(data, np.random.default_rng(1))


@pytest.fixture(scope="module")
def champion_funnel():
    return funnel_outliers(audit_data(top_box_responses(N, Y), award("A01")))


# ---------------------------------------------------------------- rank_uncertainty

def test_rank_uncertainty_needs_a_unit_column():
    data = audit_data(pd.DataFrame({"score": [5, 4, 3, 5]}), {})
    assert rank_uncertainty(data, np.random.default_rng(1)).status == "not_applicable"


def test_rank_uncertainty_needs_two_units():
    data = audit_data(top_box_responses([30], [20]), {})
    result = rank_uncertainty(data, np.random.default_rng(1))
    assert result.status == "not_applicable" and "two" in result.summary


def test_champion_probability_best_reproduces_methods(champion):
    # METHODS §7.5: EB P(best) A01 0.170214, flat prior 0.508666
    assert champion.details["p_best"] == pytest.approx(0.170214, abs=6e-7)
    assert champion.details["p_best_flat"] == pytest.approx(0.508666, abs=6e-7)


def test_champion_drops_to_fourth_after_shrinkage(champion):
    # METHODS §7.4: EB order A08, A11, A02, A01
    assert champion.details["shrunken_rank"] == 4 and champion.details["rank"] == 1


def test_champion_rank_set_is_at_least_as_wide_as_the_wald_one(champion):
    # METHODS §7.3: [1, 9] with Σ = p̂(1−p̂)/n; the (y+2)/(n+4) floor can only widen it
    low, high = champion.details["rank_ci"]
    assert low == 1 and high >= 9


def test_champion_rank_set_is_the_marginal_set_with_floored_variances(champion):
    # same seed, same first draws: the check's marginal sets come first
    p = np.array(Y) / np.array(N)
    sets = rank_confidence_sets(p, binomial_rank_variances(Y, N), rng=np.random.default_rng(1), n_bootstrap=2000)
    assert champion.details["rank_ci"] == [int(sets.lower[0]), int(sets.upper[0])]


def test_an_uncertain_champion_fails_and_says_why(champion):
    assert champion.status == "fail"
    assert "A01" in champion.summary and "4th" in champion.summary and "17 %" in champion.summary
    assert "A01" in champion.details["indistinguishable_units"]


def test_per_unit_table_carries_the_shrunken_scores(champion):
    prior = champion.details["prior"]
    rows = {r["unit"]: r for r in champion.details["units"]}
    for name, row in rows.items():
        i = int(name[1:]) - 1
        assert row["n"] == N[i]
        assert row["shrunken"] == pytest.approx((Y[i] + prior["a"]) / (N[i] + prior["a"] + prior["b"]), rel=1e-12)
        assert row["shrunken_low"] < row["shrunken"] < row["shrunken_high"]
    assert sum(r["p_best"] for r in rows.values()) == pytest.approx(1.0, abs=1e-9)
    assert sum(r["p_best_flat"] for r in rows.values()) == pytest.approx(1.0, abs=1e-9)


def test_simultaneous_rank_sets_contain_the_marginal_ones(champion):
    for row in champion.details["units"]:
        (ml, mu), (sl, su) = row["rank_ci"], row["rank_ci_simultaneous"]
        assert sl <= ml <= row["rank"] <= mu <= su


def test_a_clear_winner_with_many_ratings_passes():
    trials = [400] + [200] * 9
    successes = [380] + [150, 148, 152, 146, 155, 149, 151, 147, 153]
    result = rank_uncertainty(audit_data(top_box_responses(trials, successes), award("A01")), np.random.default_rng(2))
    assert result.status == "pass"
    assert result.details["rank_ci"] == [1, 1] and result.details["p_best"] >= 0.9
    assert result.details["indistinguishable_units"] == ["A01"]


def test_with_hundreds_of_units_sets_are_computed_for_the_top_and_the_claimed_unit():
    # 2 000 agents: the bootstrap over all pairs would be O(B·p²) per unit; the claimed unit
    # (ranked 1 500th) and the top 20 get sets, the could-be-best set uses Holm
    generator = np.random.default_rng(4)
    trials = generator.integers(20, 80, size=2000)
    successes = generator.binomial(trials, 0.8)
    names = [f"U{i:04d}" for i in range(2000)]
    shares = successes / trials
    claimed = names[int(np.argsort(-shares, kind="stable")[1500])]
    result = rank_uncertainty(audit_data(top_box_responses(trials, successes, names), award(claimed)),
                              np.random.default_rng(2), n_bootstrap=500)
    with_sets = [row for row in result.details["units"] if row["rank_ci"] is not None]
    assert claimed in {row["unit"] for row in with_sets}
    assert 20 <= len(with_sets) <= 21
    low, high = result.details["rank_ci"]
    assert low <= result.details["rank"] <= high
    assert "Holm" in result.details["method"]


def test_a_perfect_score_from_five_ratings_fails():
    trials = [5] + [200] * 9
    successes = [5] + [170, 168, 172, 166, 175, 169, 171, 167, 173]
    result = rank_uncertainty(audit_data(top_box_responses(trials, successes), award("A01")), np.random.default_rng(3))
    d = result.details
    assert result.status == "fail"
    assert d["rank"] == 1 and d["shrunken_rank"] > 1 and d["p_best"] < 0.5
    assert d["p_best_flat"] > d["p_best"]          # the award rests on small n
    assert d["rank_ci"][1] >= 5


@pytest.mark.parametrize("p_best,rank_ci,contenders,expected", [
    (0.95, (1, 1), 1, "pass"),
    (0.95, (1, 2), 2, "warn"),      # likely but not certain
    (0.89, (1, 1), 1, "warn"),
    (0.49, (1, 1), 1, "fail"),      # P(best) < 0.5
    (0.70, (1, 3), 3, "fail"),      # more than two units could be the best
])
def test_rank_rubric_follows_methods(p_best, rank_ci, contenders, expected):
    # METHODS §7.5 suggested rubric
    assert rank_status(p_best, rank_ci, contenders) == expected


def test_without_an_award_the_check_describes_the_top_unit_and_passes():
    result = rank_uncertainty(audit_data(top_box_responses(N, Y), {}), np.random.default_rng(1))
    assert result.status == "pass" and not result.details["award_claimed"]
    assert result.details["claimed_unit"] == "A01"          # highest raw share, 95 %
    assert result.details["rubric_status"] == "fail"
    assert "no award" in result.summary


def test_mean_metric_uses_the_normal_model_and_shrinks_towards_the_prior_mean():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"agent_id": np.repeat([f"A{i}" for i in range(8)], 25),
                          "score": rng.integers(1, 6, size=200)})
    result = rank_uncertainty(audit_data(frame, {"metric": "mean"}), np.random.default_rng(5))
    prior = result.details["prior"]
    assert prior["model"] == "normal-normal"
    for row in result.details["units"]:
        low, high = sorted([row["raw"], prior["prior_mean"]])
        assert low - 1e-12 <= row["shrunken"] <= high + 1e-12
    assert sum(r["p_best"] for r in result.details["units"]) == pytest.approx(1.0, abs=1e-9)


def test_nps_metric_ranks_units():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"agent_id": np.repeat(["A", "B", "C", "D"], 40), "score": rng.integers(0, 11, size=160)})
    data = prepare(load_responses(frame), None, parse_claim({"metric": "nps", "scale": [0, 10]}))
    result = rank_uncertainty(data, np.random.default_rng(1))
    assert result.status == "pass" and len(result.details["units"]) == 4
    assert all(-100 <= r["raw"] <= 100 for r in result.details["units"])


def test_identical_responses_cannot_be_ranked():
    frame = pd.DataFrame({"agent_id": ["A", "A", "B", "B"], "score": [4, 4, 4, 4]})
    assert rank_uncertainty(audit_data(frame, {"metric": "mean"}), np.random.default_rng(1)).status == "not_applicable"


def test_rank_uncertainty_is_reproducible_for_a_seed():
    data = audit_data(top_box_responses(N, Y), award("A01"))
    first = rank_uncertainty(data, np.random.default_rng(9)).to_dict()
    assert rank_uncertainty(data, np.random.default_rng(9)).to_dict() == first
    json.dumps(first)


def test_the_raw_leader_of_a_clean_simulated_center_is_never_a_supported_winner():
    # agents differ only slightly (sd 0.15 on the logit): crowning the raw leader is not supported
    statuses = []
    for seed in range(6):
        sim = simulate_contact_center(np.random.default_rng(30_000 + seed), n_interactions=3000)
        shares = sim.responses.assign(top=sim.responses["score"] >= 4).groupby("agent_id")["top"].mean()
        data = prepare(load_responses(sim.responses), None,
                       parse_claim({"type": "best_unit", "unit": shares.idxmax(), "metric": "top2box"}))
        statuses.append(rank_uncertainty(data, np.random.default_rng(seed)).status)
    assert "pass" not in statuses


def test_ordinals_read_naturally():
    assert [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]


# ---------------------------------------------------------------- funnel_outliers

def test_funnel_needs_three_units():
    assert funnel_outliers(audit_data(top_box_responses([30, 40], [20, 30]), {})).status == "not_applicable"


def test_funnel_target_is_the_pooled_share(champion_funnel):
    assert champion_funnel.details["target"] == pytest.approx(THETA0, rel=1e-15)


def test_funnel_reports_spiegelhalters_phi_and_the_unwinsorised_tau2(champion_funnel):
    # METHODS §7.2: φ 1.5116760846233648; unwinsorised τ² = statsmodels DerSimonian-Laird
    d = champion_funnel.details
    p = np.array(Y) / np.array(N)
    assert d["phi_spiegelhalter"] == pytest.approx(1.5116760846233648, rel=1e-12)
    reference = combine_effects(p, THETA0 * (1 - THETA0) / np.array(N), method_re="chi2")
    assert d["tau2_unwinsorised"] == pytest.approx(reference.tau2, rel=1e-10)


def test_funnel_phi_is_corrected_for_winsorising(champion_funnel):
    # κ = E[min(Z², c²)], c = Φ⁻¹(0.9), by numerical integration; τ² in DerSimonian-Laird form
    c = stats.norm.isf(0.10)
    kappa = integrate.quad(lambda z: min(z * z, c * c) * stats.norm.pdf(z), -np.inf, np.inf, epsabs=1e-13)[0]
    d = champion_funnel.details
    phi = 1.5116760846233648 / kappa
    w = np.array(N) / (THETA0 * (1 - THETA0))
    tau2 = (12 * phi - 11) / (w.sum() - np.sum(w**2) / w.sum())
    assert d["phi"] == pytest.approx(phi, rel=1e-9)
    assert d["tau2"] == pytest.approx(tau2, rel=1e-9)
    assert d["phi_p_value"] == pytest.approx(stats.chi2.sf(12 * phi, 11), rel=1e-9)


def test_overdispersed_units_get_additive_random_effects_limits(champion_funnel):
    # Spiegelhalter (2005) §5.2: θ0 ± z·sqrt(θ0(1−θ0)/n + τ²), truncated to [0, 1]
    d = champion_funnel.details
    assert d["overdispersed"]
    for row in d["limits"]["units"]:
        half = np.sqrt(THETA0 * (1 - THETA0) / row["n"] + d["tau2"])
        assert row["upper_95"] == pytest.approx(min(1.0, THETA0 + stats.norm.ppf(0.975) * half), rel=1e-12)
        assert row["lower_998"] == pytest.approx(max(0.0, THETA0 - stats.norm.ppf(0.999) * half), rel=1e-12)


def test_the_twelve_agents_show_no_outlier_once_overdispersion_is_allowed_for(champion_funnel):
    # METHODS §7.2: A01 and A11 are inside the additive 95 % limits
    assert champion_funnel.status == "pass" and champion_funnel.details["outliers"] == []
    assert champion_funnel.details["claimed_unit"] == {"unit": "A01", "side": None, "level": None}


def test_funnel_curves_are_ready_to_plot(champion_funnel):
    grid = champion_funnel.details["limits"]["grid"]
    n = np.array(grid["n"])
    assert np.all(np.diff(n) > 0) and n[0] <= min(N) and n[-1] >= max(N)
    for key in ("lower_95", "upper_95", "lower_998", "upper_998"):
        assert len(grid[key]) == n.size
    assert np.all(np.array(grid["lower_998"]) <= np.array(grid["lower_95"]))
    assert np.all(np.array(grid["upper_95"]) <= np.array(grid["upper_998"]))
    assert "grid_unadjusted" in champion_funnel.details["limits"]


def test_a_unit_far_above_the_rest_is_an_alarm():
    trials, successes = [200] * 20, [160] * 19 + [197]
    result = funnel_outliers(audit_data(top_box_responses(trials, successes), award("A20")))
    assert result.status == "fail"
    assert result.details["outliers"][0] == {**result.details["outliers"][0], "unit": "A20", "side": "high",
                                             "level": ALARM_LEVEL}
    assert result.details["claimed_unit"]["side"] == "high" and "score_inflation" in result.summary


def test_a_unit_far_below_the_rest_is_an_alarm():
    trials, successes = [200] * 20, [160] * 19 + [100]
    result = funnel_outliers(audit_data(top_box_responses(trials, successes), {}))
    assert result.status == "fail"
    assert [(o["unit"], o["side"], o["level"]) for o in result.details["outliers"]] == [("A20", "low", ALARM_LEVEL)]


def test_exact_limits_flag_by_exact_tail_probability_not_by_the_interpolated_curve():
    # 10/10 is above the interpolated 99.8 % curve at θ0 ≈ 0.80 but P(Y = 10) = 0.8^10 ≈ 11 %
    trials, successes = [200] * 19 + [10], [160] * 19 + [10]
    result = funnel_outliers(audit_data(top_box_responses(trials, successes), {}))
    row = next(r for r in result.details["limits"]["units"] if r["unit"] == "A20")
    assert not result.details["overdispersed"]
    assert row["upper_998"] < 1.0 and row["side"] is None
    assert result.status == "pass"


def test_normal_limits_for_a_mean_use_the_sd_of_all_responses():
    pattern = [5, 4, 5, 3, 5, 4, 2, 5, 4, 5]
    frame = pd.DataFrame({"agent_id": np.repeat(["A", "B", "C", "D", "E"], [10, 20, 30, 40, 50]),
                          "score": pattern * 15})
    result = funnel_outliers(audit_data(frame, {"metric": "mean"}))
    d = result.details
    sd = np.std(pattern * 15, ddof=1)
    assert not d["overdispersed"] and result.status == "pass"
    for row in d["limits"]["units"]:
        assert row["upper_998"] == pytest.approx(min(5.0, d["target"] + stats.norm.ppf(0.999) * sd / np.sqrt(row["n"])),
                                                 rel=1e-12)
        assert row["lower_95"] == pytest.approx(d["target"] - stats.norm.ppf(0.975) * sd / np.sqrt(row["n"]), rel=1e-12)


@pytest.mark.parametrize("alarms,alerts,units", [
    (1, 1, 20), (1, 1, 30), (2, 2, 30), (0, 3, 20), (0, 4, 20), (0, 1, 5), (0, 0, 12),
])
def test_funnel_status_allows_for_the_number_of_units(alarms, alerts, units):
    # chance rates: 0.2 % of units outside 99.8 % limits, 5 % outside 95 % limits (scipy binom)
    p_alarm = stats.binom.sf(alarms - 1, units, 0.002) if alarms else 1.0
    p_alert = stats.binom.sf(alerts - 1, units, 0.05) if alerts else 1.0
    expected = "fail" if alarms and p_alarm < 0.05 else "warn" if alarms or p_alert < 0.05 else "pass"
    assert funnel_status(alarms, alerts, units) == expected


def test_one_alarm_among_twenty_units_fails_but_among_thirty_warns():
    # 1 − 0.998^20 = 3.9 % < 5 %; 1 − 0.998^30 = 5.8 %
    assert funnel_status(1, 1, 20) == "fail" and funnel_status(1, 1, 30) == "warn"


@pytest.mark.parametrize("metric,runs", [("top2box", 40), ("mean", 20)])
def test_clean_simulated_centers_rarely_fail_the_funnel(metric, runs):
    # the lead's calibration seeds (10 000 + i); ≤ 5 % fails on clean audits
    fails = 0
    for i in range(runs):
        sim = simulate_contact_center(np.random.default_rng(10_000 + i), n_interactions=3000, metric=metric)
        data = prepare(load_responses(sim.responses), None, parse_claim(sim.claim))
        fails += funnel_outliers(data).status == "fail"
    assert fails <= 0.05 * runs


def test_funnel_result_is_json_ready(champion_funnel):
    json.dumps(champion_funnel.to_dict())
