"""Specification of ``audit.simulation``: a seeded contact-center survey with known truth.

Clean audits must satisfy every null hypothesis the checks test (MCAR invitation and
response); each planted flaw must change what it names, by its documented size, and
nothing else; the bundled sample files must be exactly what the generator writes.
"""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import binom, binomtest, chi2_contingency, kstest, mannwhitneyu

from audit.simulation import FLAWS, SimulatedAudit, metric_value, simulate_contact_center

REPO = Path(__file__).resolve().parents[1]
POPULATION_COLUMNS = ["interaction_id", "agent_id", "channel", "region", "resolved",
                      "handle_time_s", "repeat_contact", "interaction_at", "invited", "responded"]
RESPONSE_COLUMNS = ["response_id", "interaction_id", "customer_id", "agent_id", "channel",
                    "region", "submitted_at", "interaction_at", "duration_s", "score"]
# Handle-time medians by channel, as documented on simulate_contact_center.
CHANNEL_HANDLE_MEDIAN_S = {"phone": 420.0, "chat": 540.0, "email": 900.0, "sms": 300.0}
N_NULL_SEEDS = 200


def simulate(seed: int, **kwargs) -> SimulatedAudit:
    return simulate_contact_center(np.random.default_rng(seed), **kwargs)


def top2box(scores, hi: int = 5) -> float:
    """Hand formula of the SPEC: share of scores in the top two scale points."""
    scores = np.asarray(scores)
    return float(np.sum(scores >= hi - 1) / scores.size)


def planted(audit: SimulatedAudit, flaw: str) -> pd.DataFrame:
    return audit.responses[audit.responses["response_id"].isin(audit.truth["planted_rows"][flaw])]


def items(responses: pd.DataFrame) -> np.ndarray:
    return responses.filter(regex=r"^q_\d+$").to_numpy()


def brute_force_max_percent_match(x: np.ndarray) -> np.ndarray:
    """Kuriakose & Robbins (2016) MPM by brute force (METHODS §8.2)."""
    share = (x[:, None, :] == x[None, :, :]).mean(axis=2)
    np.fill_diagonal(share, -1.0)
    return share.max(axis=1)


def crosstab(a, b) -> np.ndarray:
    """Contingency table of two columns (a fast pd.crosstab)."""
    ia, levels_a = pd.factorize(pd.Series(a), sort=True)
    ib, levels_b = pd.factorize(pd.Series(b), sort=True)
    counts = np.bincount(ia * len(levels_b) + ib, minlength=len(levels_a) * len(levels_b))
    return counts.reshape(len(levels_a), len(levels_b))


def chi2_p(a, b) -> float:
    # METHODS §4.1: Pearson chi-square without Yates correction.
    return float(chi2_contingency(crosstab(a, b), correction=False)[1])


def assert_uniform_p_values(p: np.ndarray) -> None:
    """Null p-values: rejections at 5 % within the central 99.9 % of Binomial(n, 0.05),
    and no gross departure from uniformity (KS)."""
    n, rejections = p.size, int(np.sum(p < 0.05))
    assert binom.ppf(0.0005, n, 0.05) <= rejections <= binom.ppf(0.9995, n, 0.05), rejections
    assert kstest(p, "uniform").pvalue > 0.001


# ---- shape and determinism ---------------------------------------------------------------

def test_same_seed_gives_identical_audit():
    a, b = (simulate(7, n_items=10, flaws=FLAWS) for _ in range(2))
    pd.testing.assert_frame_equal(a.responses, b.responses)
    pd.testing.assert_frame_equal(a.population, b.population)
    assert a.claim == b.claim
    np.testing.assert_array_equal(a.truth["latent_score"], b.truth["latent_score"])
    assert {k: v for k, v in a.truth.items() if k != "latent_score"} == \
        {k: v for k, v in b.truth.items() if k != "latent_score"}


def test_different_seeds_give_different_data():
    a, b = simulate(1), simulate(2)
    assert not a.population["agent_id"].equals(b.population["agent_id"])


def test_population_has_the_spec_columns():
    audit = simulate(3)
    assert list(audit.population.columns) == POPULATION_COLUMNS
    assert len(audit.population) == 3000


def test_responses_have_the_spec_columns_and_requested_items():
    audit = simulate(3, n_items=4)
    assert list(audit.responses.columns) == RESPONSE_COLUMNS + ["q_1", "q_2", "q_3", "q_4"]


def test_agents_are_numbered_and_have_unequal_workloads():
    counts = simulate(4, n_agents=20).population["agent_id"].value_counts()
    assert set(counts.index) <= {f"A{k:02d}" for k in range(1, 21)}
    assert counts.max() > 1.5 * counts.min()


def test_ids_are_unique_and_responses_link_to_their_interaction():
    audit = simulate(5, n_items=10, flaws=FLAWS)
    pop, resp = audit.population, audit.responses
    assert pop["interaction_id"].is_unique and resp["response_id"].is_unique
    joined = resp.merge(pop, on="interaction_id", suffixes=("", "_pop"), validate="many_to_one")
    assert len(joined) == len(resp)
    for column in ("agent_id", "channel", "region", "interaction_at"):
        assert (joined[column] == joined[f"{column}_pop"]).all(), column


@pytest.mark.parametrize("flaws", [(), FLAWS], ids=["clean", "all_flaws"])
def test_responded_flag_marks_exactly_the_answered_invited_interactions(flaws):
    audit = simulate(6, n_items=10, flaws=flaws)
    pop = audit.population
    answered = pop["interaction_id"].isin(audit.responses["interaction_id"])
    assert (pop["responded"] == answered.astype(int)).all()
    assert (pop["responded"] <= pop["invited"]).all()


@pytest.mark.parametrize("scale", [(1, 5), (0, 10)])
def test_scores_and_items_are_integers_on_the_scale(scale):
    audit = simulate(7, scale=scale, n_items=6, flaws=FLAWS)
    values = np.column_stack([audit.responses["score"], items(audit.responses)])
    assert values.min() >= scale[0] and values.max() <= scale[1]
    assert np.issubdtype(values.dtype, np.integer)
    assert set(np.unique(audit.truth["latent_score"])) == set(range(scale[0], scale[1] + 1))


def test_interactions_fall_in_business_hours_of_the_period_and_fewer_on_weekends():
    pop = simulate(8, n_interactions=20000, start="2026-07-01", days=92).population
    at = pop["interaction_at"]
    assert str(at.dt.tz) == "UTC"
    assert at.min() >= pd.Timestamp("2026-07-01", tz="UTC")
    assert at.max() < pd.Timestamp("2026-10-01", tz="UTC")
    assert at.dt.hour.between(7, 19).all()
    per_day = at.dt.normalize().value_counts()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    assert weekend < 0.6 * per_day[per_day.index.dayofweek < 5].mean()
    assert at.is_monotonic_increasing      # ids follow time


def test_clean_responses_are_submitted_after_the_interaction_ends():
    audit = simulate(9, n_items=3)
    joined = audit.responses.merge(audit.population[["interaction_id", "handle_time_s"]])
    end = joined["interaction_at"] + pd.to_timedelta(joined["handle_time_s"].round(), unit="s")
    assert (joined["submitted_at"] >= end).all()


def test_duration_median_is_about_75_s_plus_10_s_per_item():
    durations = simulate(10, n_interactions=20000, n_items=10).responses["duration_s"]
    assert durations.median() == pytest.approx(175.0, rel=0.05)


def test_customers_can_answer_several_surveys():
    resp = simulate(11, n_interactions=20000).responses
    assert resp["customer_id"].value_counts().max() >= 2


def test_claim_is_a_level_claim_with_the_published_unweighted_figure():
    audit = simulate(12)
    claim = audit.claim
    assert claim["type"] == "level" and claim["metric"] == "top2box" and claim["scale"] == [1, 5]
    assert claim["value"] == round(top2box(audit.responses["score"]), 3)
    assert audit.truth["respondent_metric"] == pytest.approx(top2box(audit.responses["score"]), rel=1e-12)


def test_nps_claim_is_in_points():
    audit = simulate(13, scale=(0, 10), metric="nps")
    s = audit.responses["score"].to_numpy()
    expected = 100 * (np.mean(s >= 9) - np.mean(s <= 6))
    assert audit.claim["metric"] == "nps"
    assert audit.claim["value"] == round(expected, 3)


@pytest.mark.parametrize("kwargs", [
    {"flaws": ("no_such_flaw",)},
    {"flaws": "speeding"},
    {"flaws": ("straightlining",), "n_items": 0},
    {"flaws": ("copied_answers",), "n_items": 2},
    {"metric": "nps", "scale": (1, 5)},
    {"invite_rate": 0.0},
    {"scale": (1, 2)},
])
def test_unusable_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        simulate(0, **kwargs)


# ---- metric definitions and truth --------------------------------------------------------

def test_metric_value_reproduces_the_methods_worked_numbers():
    # METHODS §1.1: 47 of 50 in the top box -> 0.94; §2: 110 promoters, 50 passives,
    # 40 detractors -> NPS 35 points.
    assert metric_value(np.array([5] * 47 + [2] * 3), "top2box", (1, 5)) == pytest.approx(0.94, rel=1e-12)
    nps = np.array([10] * 110 + [7] * 50 + [3] * 40)
    assert metric_value(nps, "nps", (0, 10)) == pytest.approx(35.0, rel=1e-12)
    assert metric_value(np.array([1, 2, 5]), "mean", (1, 5)) == pytest.approx(8 / 3, rel=1e-12)


def test_population_metric_is_the_metric_of_all_latent_scores():
    # Everyone invited and answering: the responses are the latent scores themselves.
    audit = simulate(14, invite_rate=1.0, response_rate=1.0)
    scores = audit.responses["score"].to_numpy()
    assert len(scores) == 3000
    assert audit.truth["population_metric"] == pytest.approx(top2box(scores), rel=1e-12)
    assert audit.truth["population_top2box"] == pytest.approx(top2box(scores), rel=1e-12)
    assert audit.truth["population_mean"] == pytest.approx(scores.mean(), rel=1e-12)
    assert audit.truth["population_nps"] is None


def test_population_nps_on_a_0_to_10_scale():
    audit = simulate(15, scale=(0, 10), invite_rate=1.0, response_rate=1.0)
    s = audit.responses["score"].to_numpy()
    assert audit.truth["population_nps"] == pytest.approx(100 * (np.mean(s >= 9) - np.mean(s <= 6)), rel=1e-12)
    assert audit.truth["population_top2box"] == pytest.approx(top2box(s, hi=10), rel=1e-12)


def test_latent_top2box_follows_the_documented_cumulative_logit_model():
    # Proportional odds: 1[score >= 4] is logistic with the same slopes and intercept
    # -1.0 + 0.15 (phone) - logit((3/5)^3) (module docstring; McCullagh 1980).
    audit = simulate(16, n_interactions=20000, n_agents=40)
    pop = audit.population
    x = pd.DataFrame({"resolved": pop["resolved"], "repeat_contact": pop["repeat_contact"],
                      "log_handle": np.log(pop["handle_time_s"]) - np.log(500.0)})
    for ch in ("chat", "email", "sms"):
        x[ch] = (pop["channel"] == ch).astype(float)
    fit = sm.Logit((audit.truth["latent_score"] >= 4).astype(float), sm.add_constant(x)).fit(disp=0)
    f3 = 0.6 ** 3
    expected = {"const": -1.0 + 0.15 - np.log(f3 / (1 - f3)), "resolved": 1.3, "repeat_contact": -0.5,
                "log_handle": -0.5, "chat": 0.25 - 0.15, "email": -0.35 - 0.15, "sms": -0.15 - 0.15}
    z = {k: (fit.params[k] - v) / fit.bse[k] for k, v in expected.items()}
    assert all(abs(v) < 4 for v in z.values()), z


# ---- clean data satisfies the nulls (calibration) ---------------------------------------

@pytest.fixture(scope="module")
def null_runs() -> pd.DataFrame:
    rows = []
    for seed in range(N_NULL_SEEDS):
        audit = simulate(10_000 + seed, n_interactions=1500)
        pop = audit.population
        invited = pop[pop["invited"] == 1]
        k = int(audit.responses["score"].ge(4).sum())
        n = len(audit.responses)
        p_pop = audit.truth["population_top2box"]
        rows.append({
            "invited_vs_resolved": chi2_p(pop["invited"], pop["resolved"]),
            "invited_vs_channel": chi2_p(pop["invited"], pop["channel"]),
            "invited_handle_time": mannwhitneyu(pop.loc[pop["invited"] == 1, "handle_time_s"],
                                                pop.loc[pop["invited"] == 0, "handle_time_s"]).pvalue,
            "responded_vs_channel": chi2_p(invited["responded"], invited["channel"]),
            "responded_vs_region": chi2_p(invited["responded"], invited["region"]),
            "responded_vs_agent": chi2_p(invited["responded"], invited["agent_id"]),
            "responded_vs_resolved": chi2_p(invited["responded"], invited["resolved"]),
            # Respondents are a simple random sample of the interactions: z of the
            # respondent top-2 box against the population value (with finite-population
            # correction, Cochran 1977 ch. 2).
            "z_metric": (k / n - p_pop) / np.sqrt(p_pop * (1 - p_pop) / n * (1 - n / len(pop))),
        })
    return pd.DataFrame(rows)


@pytest.mark.parametrize("column", ["invited_vs_resolved", "invited_vs_channel",
                                    "invited_handle_time"])
def test_clean_invitation_is_independent_of_the_interaction(null_runs, column):
    assert_uniform_p_values(null_runs[column].to_numpy())


@pytest.mark.parametrize("column", ["responded_vs_channel", "responded_vs_region",
                                    "responded_vs_agent", "responded_vs_resolved"])
def test_clean_response_rates_do_not_differ_by_segment(null_runs, column):
    assert_uniform_p_values(null_runs[column].to_numpy())


def test_clean_respondent_metric_is_unbiased_for_the_population_metric(null_runs):
    z = null_runs["z_metric"].to_numpy()
    assert abs(z.mean()) < 3.5 / np.sqrt(z.size)
    assert 0.8 < z.std(ddof=1) < 1.2


def test_clean_data_has_no_timing_or_speed_anomalies():
    resp = simulate(17, n_interactions=20000, n_items=10).responses
    assert (resp["submitted_at"] >= resp["interaction_at"]).all()
    assert resp["interaction_id"].is_unique
    assert np.mean(resp["duration_s"] < 0.3 * resp["duration_s"].median()) < 0.005
    assert resp.groupby(["customer_id", "agent_id"]).size().max() <= 3


# ---- each flaw changes what it names, by its documented size -----------------------------

@pytest.mark.parametrize("flaw", FLAWS)
def test_flaws_leave_the_interactions_and_latent_scores_unchanged(flaw):
    clean, flawed = simulate(18, n_items=10), simulate(18, n_items=10, flaws=(flaw,))
    fixed = [c for c in POPULATION_COLUMNS if c not in ("invited", "responded")]
    pd.testing.assert_frame_equal(clean.population[fixed], flawed.population[fixed])
    np.testing.assert_array_equal(clean.truth["latent_score"], flawed.truth["latent_score"])
    assert flawed.truth["flaws"] == [flaw]


@pytest.mark.parametrize("flaw, columns", [
    ("speeding", ["duration_s"]),
    ("straightlining", [f"q_{j}" for j in range(1, 11)]),
    ("before_interaction", ["submitted_at"]),
])
def test_response_flaw_changes_only_its_columns_on_the_planted_rows(flaw, columns):
    clean, flawed = simulate(19, n_items=10), simulate(19, n_items=10, flaws=(flaw,))
    a = clean.responses.set_index("interaction_id").drop(columns="response_id")
    b = flawed.responses.set_index("interaction_id").drop(columns="response_id").loc[a.index]
    changed = (a != b)
    assert set(changed.columns[changed.any()]) <= set(columns)
    planted_interactions = set(planted(flawed, flaw)["interaction_id"])
    assert set(changed.index[changed.any(axis=1)]) <= planted_interactions
    assert changed.any(axis=1).sum() >= 0.8 * len(planted_interactions)


def test_selective_invitation_offers_surveys_after_resolved_and_short_interactions():
    # Documented: invite probability 0.6 × (4/3 resolved | 5/12 not) × (1.1 short | 0.9 long).
    pop = simulate(20, n_interactions=20000, flaws=("selective_invitation",)).population
    short = pop["handle_time_s"] < pop["channel"].map(CHANNEL_HANDLE_MEDIAN_S)
    for (res, is_short), cell in pop.groupby([pop["resolved"], short]):
        p = 0.6 * (4 / 3 if res else 5 / 12) * (1.1 if is_short else 0.9)
        assert binomtest(int(cell["invited"].sum()), len(cell), p).pvalue > 0.001, (res, is_short)
    assert chi2_p(pop["invited"], pop["resolved"]) < 1e-12


def test_channel_skew_sets_response_rates_of_35_25_12_6_percent():
    pop = simulate(21, n_interactions=20000, flaws=("channel_skew",)).population
    invited = pop[pop["invited"] == 1]
    expected = {"phone": 0.12, "chat": 0.35, "email": 0.25, "sms": 0.06}
    for channel, cell in invited.groupby("channel"):
        assert binomtest(int(cell["responded"].sum()), len(cell), expected[channel]).pvalue > 0.001
    table = crosstab(invited["responded"], invited["channel"])
    chi2 = chi2_contingency(table, correction=False)[0]
    assert np.sqrt(chi2 / table.sum()) > 0.2     # Cramér's V, medium effect (Cohen 1988)


def test_happy_respond_more_triples_response_odds_per_scale_point():
    audit = simulate(22, n_interactions=20000, flaws=("happy_respond_more",))
    invited = audit.population["invited"].to_numpy() == 1
    y = audit.population["responded"].to_numpy()[invited]
    score = audit.truth["latent_score"][invited].astype(float)
    fit = sm.Logit(y, sm.add_constant(score)).fit(disp=0)
    low, high = fit.conf_int(alpha=0.001)[1]
    assert low < np.log(3) < high
    # The intercept is re-solved so the response rate stays at response_rate.
    assert binomtest(int(y.sum()), y.size, 0.3).pvalue > 0.001


def test_happy_respond_more_biases_the_published_metric_upward():
    audit = simulate(23, flaws=("happy_respond_more",))
    assert audit.truth["respondent_metric"] - audit.truth["population_metric"] > 0.1


def test_ballot_stuffing_gives_one_agent_many_top_scores_from_three_customers():
    audit = simulate(24, flaws=("ballot_stuffing",))
    rows = planted(audit, "ballot_stuffing")
    assert (rows["agent_id"] == audit.truth["agents"]["ballot_stuffing"]).all()
    assert (rows["score"] == 5).all()
    per_customer = rows["customer_id"].value_counts()
    assert len(per_customer) == 3 and per_customer.between(5, 8).all()
    assert rows["interaction_id"].value_counts().max() >= 5      # one re-used survey link
    assert audit.truth["flagged_agents"] == [audit.truth["agents"]["ballot_stuffing"]]


def test_copied_answers_are_near_duplicates_within_one_agent():
    audit = simulate(25, n_items=10, flaws=("copied_answers",))
    rows = planted(audit, "copied_answers")
    assert len(rows) >= 10
    assert (rows["agent_id"] == audit.truth["agents"]["copied_answers"]).all()
    assert (rows["score"] == 5).all()
    x = items(rows)
    assert brute_force_max_percent_match(x).min() >= 0.9       # METHODS §8.2 flag: 0.85
    assert len(np.unique(x[0])) > 1                             # not the all-top pattern


def test_burst_puts_top_scores_for_one_agent_within_eight_minutes():
    audit = simulate(26, flaws=("burst",))
    rows = planted(audit, "burst")
    assert len(rows) == 18                                        # 0.6 % of 3,000
    assert (rows["agent_id"] == audit.truth["agents"]["burst"]).all()
    assert (rows["score"] == 5).all()
    span = rows["submitted_at"].max() - rows["submitted_at"].min()
    assert span <= pd.Timedelta(minutes=8)
    assert (rows["submitted_at"] > rows["interaction_at"]).all()


def test_clean_data_has_no_burst_of_that_size():
    t = np.sort(simulate(26).responses["submitted_at"].astype("int64").to_numpy())
    in_window = np.searchsorted(t, t + 8 * 60, side="right") - np.arange(t.size)
    assert in_window.max() <= 6


def test_before_interaction_rows_are_exactly_those_submitted_early():
    audit = simulate(27, flaws=("before_interaction",))
    resp = audit.responses
    early = resp[resp["submitted_at"] < resp["interaction_at"]]
    assert set(early["response_id"]) == set(audit.truth["planted_rows"]["before_interaction"])
    assert len(early) >= 5
    assert ((early["interaction_at"] - early["submitted_at"]) >= pd.Timedelta(minutes=10)).all()


def test_straightliners_give_their_score_to_every_item():
    clean, flawed = simulate(28, n_items=10), simulate(28, n_items=10, flaws=("straightlining",))
    rows = planted(flawed, "straightlining")
    assert (items(rows) == rows["score"].to_numpy()[:, None]).all()
    def share(r: pd.DataFrame) -> float:
        return float(np.mean((items(r) == items(r)[:, :1]).all(axis=1)))
    # Documented: 12 % of genuine respondents, on top of the genuine all-alike answers.
    assert share(flawed.responses) - share(clean.responses) == pytest.approx(0.12, abs=0.03)


def test_speeders_finish_below_30_percent_of_the_median_duration():
    audit = simulate(29, n_items=10, flaws=("speeding",))
    resp, rows = audit.responses, planted(audit, "speeding")
    assert len(rows) == round(0.08 * len(resp))
    assert (rows["duration_s"] < 0.3 * resp["duration_s"].median()).all()


def test_begging_agent_selects_whom_to_survey_gets_more_answers_and_more_top_scores():
    audit = simulate(30, n_interactions=20000, flaws=("begging_agent",))
    agent = audit.truth["agents"]["begging_agent"]
    pop, resp = audit.population, audit.responses
    mine = pop[pop["agent_id"] == agent]
    # Documented: invite 0.9 if resolved, 0.2 if not; response odds ×4 (0.3 -> 0.632).
    resolved = mine[mine["resolved"] == 1]
    unresolved = mine[mine["resolved"] == 0]
    assert binomtest(int(resolved["invited"].sum()), len(resolved), 0.9).pvalue > 0.001
    assert binomtest(int(unresolved["invited"].sum()), len(unresolved), 0.2).pvalue > 0.001
    invited = mine[mine["invited"] == 1]
    assert binomtest(int(invited["responded"].sum()), len(invited), 1.2 / 1.9).pvalue > 0.001
    own = resp["agent_id"] == agent
    assert top2box(resp.loc[own, "score"]) > top2box(resp.loc[~own, "score"]) + 0.1
    raised = planted(audit, "begging_agent")
    assert (raised["agent_id"] == agent).all() and (raised["score"] == 5).all()


def test_all_flaws_can_be_planted_together_on_four_different_agents():
    audit = simulate(31, n_items=10, flaws=FLAWS)
    assert audit.truth["flaws"] == list(FLAWS)
    assert len(audit.truth["flagged_agents"]) == 4
    assert set(audit.truth["agents"].values()) == set(audit.truth["flagged_agents"])
    response_ids = set(audit.responses["response_id"])
    for flaw, ids in audit.truth["planted_rows"].items():
        assert ids and set(ids) <= response_ids, flaw


def test_simulation_is_fast():
    def best_of_three(**kwargs) -> float:
        times = []
        for seed in range(3):
            started = time.perf_counter()
            simulate(seed, **kwargs)
            times.append(time.perf_counter() - started)
        return min(times)
    assert best_of_three(n_interactions=3000) < 0.1
    assert best_of_three(n_interactions=20000, n_agents=40, n_items=10, flaws=FLAWS) < 1.0


# ---- bundled sample data -----------------------------------------------------------------

@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("sample_data_generate", REPO / "sample_data" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample_files(generator) -> dict[str, bytes]:
    return generator.render_files()


def read_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REPO / "sample_data" / name)


def test_sample_files_on_disk_equal_what_the_generator_writes(sample_files):
    for name, content in sample_files.items():
        assert (REPO / "sample_data" / name).read_bytes() == content, name


def test_sample_claim_is_the_unweighted_top2box_of_responses_csv():
    claim = json.loads((REPO / "sample_data/contact_center/claim.json").read_text(encoding="utf-8"))
    responses = read_csv("contact_center/responses.csv")
    assert claim["value"] == round(top2box(responses["score"]), 3)
    assert claim["title"] == f"CSAT Q3 2026: {round(100 * claim['value'])} % of customers satisfied"
    assert 0.9 <= claim["value"] < 1.0


def test_sample_award_goes_to_an_agent_with_the_highest_raw_top2box():
    claim = json.loads((REPO / "sample_data/contact_center/claim_award.json").read_text(encoding="utf-8"))
    responses = read_csv("contact_center/responses.csv")
    by_agent = responses.groupby("agent_id")["score"].apply(top2box)
    assert claim["type"] == "best_unit" and claim["unit_column"] == "agent_id"
    assert by_agent[claim["unit"]] == by_agent.max()
    assert claim["value"] == round(by_agent.max(), 3)


def test_sample_change_claim_is_the_august_to_september_difference():
    claim = json.loads((REPO / "sample_data/contact_center/claim_change.json").read_text(encoding="utf-8"))
    responses = read_csv("contact_center/responses.csv")
    by_month = responses.groupby("month")["score"].apply(top2box)
    assert (claim["period_column"], claim["before"], claim["after"]) == ("month", "2026-08", "2026-09")
    assert claim["value"] == round(by_month["2026-09"] - by_month["2026-08"], 3)


def test_sample_csv_files_round_trip_to_the_simulated_tables(generator):
    audits = generator.build_audits()
    for folder, audit in audits.items():
        for name, table in (("responses.csv", audit.responses), ("interactions.csv", audit.population)):
            disk = read_csv(f"{folder}/{name}")
            for column in ("submitted_at", "interaction_at"):
                if column in disk:
                    assert disk[column].str.endswith("Z").all()
                    disk[column] = pd.to_datetime(disk[column], utc=True)
            pd.testing.assert_frame_equal(disk, table, check_dtype=False)


def test_sample_truth_matches_the_files():
    truth = json.loads((REPO / "sample_data/contact_center/truth.json").read_text(encoding="utf-8"))
    responses = read_csv("contact_center/responses.csv")
    ids = set(responses["response_id"])
    assert all(set(rows) <= ids for rows in truth["planted_rows"].values())
    assert truth["respondent_metric"] == pytest.approx(top2box(responses["score"]), rel=1e-12)
    clean_truth = json.loads((REPO / "sample_data/clean/truth.json").read_text(encoding="utf-8"))
    assert clean_truth["flaws"] == [] and clean_truth["population_metric"] == truth["population_metric"]
