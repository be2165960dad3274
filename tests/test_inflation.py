"""Specification of `score_inflation` (audit.checks.inflation): signs of survey begging.

Reference values: scipy.stats.binomtest / fisher_exact and statsmodels' Holm adjustment,
the METHODS §8.7 worked example, and seeded simulations with a planted begging agent
(audit.simulation) for calibration (clean audits) and power.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from audit.checks.fraud import duplicate_responses, timing_anomalies
from audit.checks.bias import covariate_frame
from audit.checks.inflation import excess_p_values, satisfaction_model, score_inflation, score_signals
from audit.claim import parse_claim
from audit.data import AuditData, prepare
from audit.headline import metric_variable
from audit.loading import load_population, load_responses
from audit.results import CheckResult
from audit.simulation import simulate_contact_center


def prepared(responses: pd.DataFrame, population: pd.DataFrame | None = None, claim: dict | None = None) -> AuditData:
    return prepare(load_responses(responses), None if population is None else load_population(population),
                   parse_claim(claim))


def office(seed: int = 0, n: int = 4000, agents: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clean office: invitations and responses at random, scores depend on `resolved`."""
    g = np.random.default_rng(seed)
    pop = pd.DataFrame({"interaction_id": [f"I{i:05d}" for i in range(n)],
                        "agent_id": [f"A{i % agents}" for i in range(n)],
                        "resolved": (g.random(n) < 0.75).astype(int),
                        "channel": g.choice(["phone", "chat", "email"], size=n),
                        "invited": (g.random(n) < 0.6).astype(int)})
    responded = (pop["invited"] == 1) & (g.random(n) < 0.3)
    resp = pop[responded].copy()
    happy = g.choice([1, 2, 3, 4, 5], size=len(resp), p=[0.05, 0.1, 0.15, 0.3, 0.4])
    unhappy = g.choice([1, 2, 3, 4, 5], size=len(resp), p=[0.25, 0.25, 0.2, 0.2, 0.1])
    resp["score"] = np.where(resp["resolved"] == 1, happy, unhappy)
    resp["response_id"] = [f"R{i:05d}" for i in range(len(resp))]
    return resp[["response_id", "interaction_id", "agent_id", "score"]], pop


def run(resp: pd.DataFrame, pop: pd.DataFrame | None = None, claim: dict | None = None,
        checks: dict[str, CheckResult] | None = None) -> CheckResult:
    return score_inflation(prepared(resp, pop, claim), checks or {})


# ---------------------------------------------------------------------------------------
# the statistics of each signal
# ---------------------------------------------------------------------------------------
def test_excess_maximum_scores_reproduce_the_methods_example():
    # METHODS §8.7: 58 of 60 promoters gave 10 vs peer rate 0.62
    # binomtest(58, 60, 0.62, alternative="greater").pvalue = 2.4561567588815105e-10
    p = excess_p_values(np.array([58]), np.array([60]), 0.62)
    assert p[0] == pytest.approx(2.4561567588815105e-10, rel=1e-9)
    assert p[0] == pytest.approx(stats.binomtest(58, 60, 0.62, alternative="greater").pvalue, rel=1e-12)


def test_overdispersed_units_are_tested_against_the_random_effects_sd():
    # z = (x/n − θ0)/sqrt(θ0(1−θ0)/n + τ²), upper normal tail (computed by hand)
    p = excess_p_values(np.array([90]), np.array([100]), 0.8, tau2=0.0025)
    z = (0.9 - 0.8) / np.sqrt(0.8 * 0.2 / 100 + 0.0025)
    assert p[0] == pytest.approx(stats.norm.sf(z), rel=1e-12)


def test_response_rate_signal_is_fisher_exact_one_sided_against_the_peers():
    resp, pop = office(seed=1)
    result = run(resp, pop)
    entry = result.details["per_unit"]["A3"]
    peers_inv = sum(e["invited"] for u, e in result.details["per_unit"].items() if u != "A3")
    peers_resp = sum(e["responded"] for u, e in result.details["per_unit"].items() if u != "A3")
    table = [[entry["responded"], entry["invited"] - entry["responded"]],
             [peers_resp, peers_inv - peers_resp]]
    assert entry["p_response_rate"] == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue,
                                                     rel=1e-9)


def test_each_signal_is_holm_adjusted_across_units():
    resp, pop = office(seed=2)
    per_unit = run(resp, pop).details["per_unit"]
    for signal in ("top_box", "maximum_scores", "response_rate", "selective_offers"):
        raw = [per_unit[u][f"p_{signal}"] for u in sorted(per_unit)]
        holm = [per_unit[u][f"p_holm_{signal}"] for u in sorted(per_unit)]
        assert holm == pytest.approx(multipletests(raw, method="holm")[1].tolist(), rel=1e-9)


def test_maximum_scores_compare_a_unit_with_its_peers_among_top_box_answers():
    resp = pd.DataFrame({"agent_id": ["A"] * 20 + ["B"] * 40,
                         "score": [5] * 18 + [4] * 2 + [5] * 18 + [4] * 20 + [3] * 2})
    table = score_signals(resp["agent_id"], resp["score"], (1, 5))
    # A: 18 fives among its 20 top-box answers; its peer B: 18 of 38. With two units there
    # is no between-unit variance to estimate, so the test is exact:
    # scipy.stats.binomtest(18, 20, 18/38, alternative="greater")
    assert (table.loc["A", "maximum"], table.loc["A", "top_box"]) == (18, 20)
    assert table.loc["A", "p_maximum_scores"] == pytest.approx(
        stats.binomtest(18, 20, 18 / 38, alternative="greater").pvalue, rel=1e-12)


def stacked_satisfaction_terms(data: AuditData, categorical: list[str], numeric: list[str]) -> dict:
    # least squares on every linked row's design stacked column by column, then the rows with a score
    pop, resp = data.population, data.responses
    score = resp.dropna(subset=["interaction_id"]).drop_duplicates("interaction_id").set_index("interaction_id")["score"]
    y_score = pop.linked["interaction_id"].map(score)
    fit_rows = y_score.notna().to_numpy()
    covs = covariate_frame(pop.linked, categorical, numeric)
    levels = {c: sorted(pop.cells.keys[c].unique()) for c in categorical}
    columns = [np.ones(len(covs))]
    for c in categorical:
        columns += [(covs[c].to_numpy() == level).astype(float) for level in levels[c][1:]]
    columns += [covs[c].to_numpy(float) for c in numeric]
    beta, *_ = np.linalg.lstsq(np.column_stack(columns)[fit_rows],
                               metric_variable(y_score[fit_rows], "top2box", data.scale), rcond=None)
    names = [(c, level) for c in categorical for level in levels[c][1:]]
    return {"intercept": float(beta[0]),
            "levels": {c: {levels[c][0]: 0.0, **{lv: float(b) for (cc, lv), b in zip(names, beta[1:]) if cc == c}}
                       for c in categorical},
            "slopes": {c: float(b) for c, b in zip(numeric, beta[1 + len(names):])}}


def flat_terms(terms: dict) -> dict[tuple, float]:
    return {("intercept",): terms["intercept"],
            **{("level", c, lv): b for c, levels in terms["levels"].items() for lv, b in levels.items()},
            **{("slope", c): b for c, b in terms["slopes"].items()}}


def assert_same_terms(got: dict, want: dict) -> None:
    # the QR route and lstsq's SVD reach the same least-squares solution up to rounding
    # (~1e-14 relative here); the terms and their names must be the same
    got, want = flat_terms(got), flat_terms(want)
    assert list(got) == list(want)
    assert list(got.values()) == pytest.approx(list(want.values()), rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("block_rows", [131_072, 50])
def test_satisfaction_model_is_least_squares_on_the_linked_rows(monkeypatch, block_rows):
    # block_rows = 50: the ~700 fitted rows' design is built and factorised in 15 blocks
    monkeypatch.setattr("audit.checks.inflation.FIT_BLOCK_ROWS", block_rows)
    resp, pop = office(seed=5)
    pop["handle_time_s"] = np.random.default_rng(6).gamma(2.0, 300.0, len(pop)).round(1)
    data = prepared(resp, pop)
    cats = [c for c in data.population.offer_cells.columns if c in data.categorical]
    nums = list(data.population.offer_numeric)
    assert cats and nums == ["handle_time_s"]
    assert_same_terms(satisfaction_model(data, cats, nums), stacked_satisfaction_terms(data, cats, nums))


def test_satisfaction_model_gives_the_minimum_norm_solution_when_a_level_has_no_scored_interaction(monkeypatch):
    # "fax" interactions are never answered: the design's fax column is all zeros, and
    # lstsq's minimum-norm solution (the reference) gives the level 0
    monkeypatch.setattr("audit.checks.inflation.FIT_BLOCK_ROWS", 100)
    resp, pop = office(seed=7)
    fax = ~pop["interaction_id"].isin(resp["interaction_id"]) & (np.arange(len(pop)) % 5 == 0)
    pop.loc[fax, "channel"] = "fax"
    data = prepared(resp, pop)
    cats = [c for c in data.population.offer_cells.columns if c in data.categorical]
    terms = satisfaction_model(data, cats, [])
    assert "fax" in terms["levels"]["channel"]
    assert terms["levels"]["channel"]["fax"] == pytest.approx(0.0, abs=1e-13)
    assert_same_terms(terms, stacked_satisfaction_terms(data, cats, []))


# ---------------------------------------------------------------------------------------
# how signals are combined
# ---------------------------------------------------------------------------------------
def test_without_a_unit_column_the_check_is_not_applicable():
    result = run(pd.DataFrame({"score": [5, 4, 3, 5, 2, 5]}))
    assert result.status == "not_applicable" and "unit column" in result.summary


def test_a_clean_office_has_no_suspect():
    resp, pop = office(seed=3)
    result = run(resp, pop)
    assert result.status == "pass" and result.details["suspect_units"] == []


def begging_office(seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agent A0 offers the survey mostly after resolved contacts and begs: its invited
    customers answer twice as often."""
    resp, pop = office(seed=seed)
    g = np.random.default_rng(seed + 100)
    mine = pop["agent_id"] == "A0"
    pop.loc[mine, "invited"] = np.where(pop.loc[mine, "resolved"] == 1, g.random(mine.sum()) < 0.95,
                                        g.random(mine.sum()) < 0.1).astype(int)
    extra = pop[mine & (pop["invited"] == 1) & ~pop["interaction_id"].isin(resp["interaction_id"])].sample(
        frac=0.35, random_state=seed)
    extra = extra.assign(score=5, response_id=[f"X{i:04d}" for i in range(len(extra))])
    resp = pd.concat([resp[resp["interaction_id"].isin(pop.loc[pop["invited"] == 1, "interaction_id"])],
                      extra[resp.columns]], ignore_index=True)
    return resp, pop


def test_a_begging_agent_is_named_on_at_least_two_signals():
    resp, pop = begging_office()
    result = run(resp, pop)
    assert result.status == "fail"
    [suspect] = result.details["suspect_units"]
    assert suspect["unit"] == "A0" and {"selective_offers", "response_rate"} <= set(suspect["signals"])
    assert "A0" in result.summary and "surveys offered after better-than-usual interactions" in result.summary


def test_one_signal_alone_is_a_watch_list_entry_not_an_accusation():
    resp, pop = office(seed=5)
    burst = CheckResult("timing_anomalies", "fail", "", "", details={"bursts": [{"unit": "A2", "material": True}]})
    result = run(resp, pop, checks={"timing_anomalies": burst})
    assert result.status == "pass"
    assert [e["unit"] for e in result.details["watch_list"]] == ["A2"]
    assert result.details["watch_list"][0]["signals"] == ["burst"]


def test_a_claimed_winner_with_one_signal_warns():
    resp, pop = office(seed=5)
    burst = CheckResult("timing_anomalies", "fail", "", "", details={"bursts": [{"unit": "A2", "material": True}]})
    result = run(resp, pop, claim={"type": "best_unit", "unit": "A2", "unit_column": "agent_id"},
                 checks={"timing_anomalies": burst})
    assert result.status == "warn"
    assert result.details["claimed_unit"] == {"unit": "A2", "signals": ["burst"]}


def test_findings_of_the_response_checks_are_signals_for_their_unit():
    resp, pop = office(seed=6)
    checks = {
        "timing_anomalies": CheckResult("timing_anomalies", "fail", "", "",
                                        details={"bursts": [{"unit": "A4", "material": True}]}),
        "duplicate_responses": CheckResult("duplicate_responses", "fail", "", "",
                                           details={"per_unit": {"A4": {"p_holm": 0.001}}}),
    }
    result = run(resp, pop, checks=checks)
    assert result.status == "fail"
    assert result.details["suspect_units"][0]["unit"] == "A4"
    assert set(result.details["suspect_units"][0]["signals"]) == {"burst", "repeat_ratings"}


def test_without_an_interactions_table_only_score_and_response_signals_are_tested():
    resp, _ = office(seed=7)
    result = run(resp)
    assert set(result.details["signals_not_testable"]) == {"selective_offers", "response_rate"}
    assert result.status == "pass"


# ---------------------------------------------------------------------------------------
# calibration and power on seeded simulations (audit.simulation)
# ---------------------------------------------------------------------------------------
RUNS = 60


def simulated_result(seed: int, flaws: tuple[str, ...]) -> tuple[CheckResult, dict]:
    sim = simulate_contact_center(np.random.default_rng(5000 + seed), n_interactions=3000, flaws=flaws)
    data = prepare(load_responses(sim.responses), load_population(sim.population), parse_claim(None))
    rng = np.random.default_rng(seed)
    checks = {c.id: c for c in (duplicate_responses(data, rng), timing_anomalies(data, rng))}
    return score_inflation(data, checks), sim.truth


@pytest.mark.parametrize("flaws", [(), ("selective_invitation", "happy_respond_more")])
def test_clean_agents_are_not_accused(flaws):
    # centre-wide selective invitation and MNAR response are not any one agent's doing:
    # 60 seeded audits, none may fail (nominal rate of a false suspect ≪ 5 %)
    statuses = [simulated_result(seed, flaws)[0].status for seed in range(RUNS)]
    assert statuses.count("fail") <= 0.05 * RUNS


def test_a_planted_begging_agent_is_named_in_ninety_percent_of_runs():
    named = 0
    for seed in range(RUNS):
        result, truth = simulated_result(seed, ("begging_agent",))
        suspects = {e["unit"] for e in result.details["suspect_units"]}
        named += truth["agents"]["begging_agent"] in suspects
        assert suspects <= {truth["agents"]["begging_agent"]}
    assert named >= 0.9 * RUNS


def test_two_signals_from_the_scores_alone_are_not_an_accusation():
    # A01 gives only 5s (top-box share and maximum scores both far above its peers), but
    # both signals read the same data: a genuinely excellent unit looks the same
    g = np.random.default_rng(8)
    peers = pd.DataFrame({"agent_id": [f"A{i:02d}" for i in range(2, 11) for _ in range(100)],
                          "score": g.choice([2, 3, 4, 5], size=900, p=[0.1, 0.2, 0.4, 0.3])})
    resp = pd.concat([pd.DataFrame({"agent_id": "A01", "score": [5] * 100}), peers], ignore_index=True)
    result = run(resp)
    [watched] = result.details["watch_list"]
    assert watched["unit"] == "A01" and set(watched["signals"]) == {"top_box", "maximum_scores"}
    assert result.status == "pass" and result.details["suspect_units"] == []


def test_response_rates_that_genuinely_differ_are_tested_against_the_random_effects_spread():
    # eight agents whose response rates differ for ordinary reasons (20 % ... 41 %, 1000
    # invited each): the test must allow for that spread (Spiegelhalter 2005 §5.2)
    rates = np.linspace(0.20, 0.41, 8)
    rows = []
    for a, rate in enumerate(rates):
        answered = int(round(1000 * rate))
        rows += [{"interaction_id": f"I{a}-{i}", "agent_id": f"A{a}", "invited": 1, "resolved": i % 2,
                  "responded": int(i < answered)} for i in range(1000)]
    pop = pd.DataFrame(rows)
    resp = pop[pop["responded"] == 1].assign(score=5, response_id=lambda f: "R" + f["interaction_id"])
    result = run(resp[["response_id", "interaction_id", "agent_id", "score"]], pop.drop(columns="responded"))
    tau2 = result.details["response_rate_between_unit_variance"]
    assert tau2 > 0
    top = result.details["per_unit"]["A7"]
    pooled = sum(int(round(1000 * r)) for r in rates) / 8000
    z = (top["responded"] / 1000 - pooled) / np.sqrt(pooled * (1 - pooled) / 1000 + tau2)
    assert top["p_response_rate"] == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert "response_rate" not in top["signals"]
