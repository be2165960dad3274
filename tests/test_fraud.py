"""Specification of the response-level integrity checks (audit.checks.fraud).

Behaviour on small hand-made exports (reference values computed in the test with scipy /
statsmodels or by hand), then calibration and power on seeded simulated audits
(audit.simulation): clean audits fail each check in ≤ 5 % of runs, each planted flaw is
flagged (warn or fail) by its check in ≥ 90 % of runs and failed in most.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from audit.checks import fraud
from audit.checks.fraud import (
    duplicate_responses,
    near_duplicates,
    speeding,
    straightlining,
    timing_anomalies,
)
from audit.claim import parse_claim
from audit.data import AuditData, prepare
from audit.integrity import max_percent_match, stratified_excess_tests
from audit.loading import load_population, load_responses
from audit.simulation import simulate_contact_center

CHECKS = {"duplicate_responses": duplicate_responses, "near_duplicates": near_duplicates,
          "timing_anomalies": timing_anomalies, "straightlining": straightlining, "speeding": speeding}
T0 = pd.Timestamp("2026-07-06T09:00:00Z")


def prepared(responses: pd.DataFrame, population: pd.DataFrame | None = None, claim: dict | None = None) -> AuditData:
    return prepare(load_responses(responses), None if population is None else load_population(population),
                   parse_claim(claim))


def simulated(seed: int, flaws: tuple[str, ...] = (), *, with_population: bool = False):
    sim = simulate_contact_center(np.random.default_rng(seed), n_interactions=3000, n_items=10, flaws=flaws)
    return sim, prepared(sim.responses, sim.population if with_population else None)


def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def source_rows(sim, response_ids) -> set[int]:
    # the loader numbers rows as a spreadsheet does: header = row 1
    position = pd.Index(sim.responses["response_id"]).get_indexer(list(response_ids))
    return set((position + 2).tolist())


def export(n: int, *, agents: int = 5, seed: int = 0, items: int = 0) -> pd.DataFrame:
    """A plain export: one response per interaction and customer, spread over 60 days."""
    g = np.random.default_rng(seed)
    interaction = T0 + pd.to_timedelta(np.sort(g.uniform(0, 60 * 86400, n)).round(), unit="s")
    frame = pd.DataFrame({
        "response_id": [f"R{i:04d}" for i in range(n)], "interaction_id": [f"I{i:04d}" for i in range(n)],
        "customer_id": [f"C{i:04d}" for i in range(n)], "agent_id": [f"A{i % agents}" for i in range(n)],
        "interaction_at": interaction,
        "submitted_at": interaction + pd.to_timedelta(g.lognormal(np.log(3600), 1.0, n).round() + 600, unit="s"),
        "duration_s": g.lognormal(np.log(150), 0.3, n).round(1), "score": g.choice([3, 4, 5], size=n, p=[.2, .3, .5])})
    for j in range(items):
        frame[f"q_{j + 1}"] = g.choice([1, 2, 3, 4, 5], size=n, p=[.05, .1, .15, .3, .4])
    return frame


# ---------------------------------------------------------------------------------------
# not applicable
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("check_id,needed", [
    ("duplicate_responses", "response_id"), ("near_duplicates", "q_*"), ("timing_anomalies", "submitted_at"),
    ("straightlining", "q_*"), ("speeding", "duration_s")])
def test_check_without_its_columns_is_not_applicable_and_names_them(check_id, needed):
    data = prepared(pd.DataFrame({"score": [5, 4, 3, 5], "agent_id": ["A", "B", "A", "B"]}))
    result = CHECKS[check_id](data, rng())
    assert result.status == "not_applicable" and needed in result.summary


def test_near_duplicates_needs_five_items():
    # Simmons et al. (2016): with few items genuine respondents match by chance
    result = near_duplicates(prepared(export(50, items=4)), rng())
    assert result.status == "not_applicable" and "5 item columns" in result.summary


# ---------------------------------------------------------------------------------------
# duplicate_responses
# ---------------------------------------------------------------------------------------
def test_a_clean_export_has_no_duplicates():
    result = duplicate_responses(prepared(export(200)), rng())
    assert result.status == "pass"
    assert result.details["duplicates"] == {"response_id": 0, "interaction_id": 0, "identical_rows": 0,
                                            "repeat_rater": 0}


def test_a_repeated_response_id_is_counted_and_warns():
    frame = export(100)
    frame.loc[10, "response_id"] = frame.loc[3, "response_id"]
    result = duplicate_responses(prepared(frame), rng())
    assert result.status == "warn"
    assert result.details["duplicates"]["response_id"] == 1
    assert result.details["examples"]["response_id"] == [5, 12]      # spreadsheet rows of both copies


def test_one_interaction_answered_three_times_fails_as_a_reused_link():
    frame = export(100)
    frame.loc[[20, 40], "interaction_id"] = frame.loc[5, "interaction_id"]
    result = duplicate_responses(prepared(frame), rng())
    assert result.status == "fail"
    assert result.details["reused_interactions"] == {frame.loc[5, "interaction_id"]: 3}
    assert result.details["duplicates"]["interaction_id"] == 2


def test_the_metric_without_duplicates_keeps_the_first_response_by_submission_time():
    frame = export(60)
    frame["score"] = 3
    frame.loc[[0, 1], "score"] = 5
    frame.loc[1, "interaction_id"] = frame.loc[0, "interaction_id"]          # answered twice
    frame.loc[1, "submitted_at"] = frame.loc[0, "submitted_at"] - pd.Timedelta(minutes=5)
    metric = duplicate_responses(prepared(frame), rng()).details["metric_without_duplicates"]
    # top-2 box: 2 of 60 with, 1 of 59 without (row 1 came first, row 0 is the duplicate)
    assert metric["with"] == pytest.approx(2 / 60, rel=1e-12)
    assert metric["without"] == pytest.approx(1 / 59, rel=1e-12)
    assert metric["responses_removed"] == 1


def test_sorted_positions_are_the_order_of_a_stable_multi_key_sort():
    g = np.random.default_rng(2)
    frame = pd.DataFrame({"when": pd.to_datetime(g.choice([0, 60, 120], size=300), unit="s", utc=True),
                          "row": g.choice([3.0, 1.0, 2.0, np.nan], size=300)}, index=np.arange(300)[::-1] * 7)
    frame.loc[frame.index[::9], "when"] = pd.NaT
    expected = frame.reset_index(drop=True).sort_values(["when", "row"], kind="stable", na_position="last").index
    np.testing.assert_array_equal(fraud._sorted_positions(frame, ["when", "row"]), expected.to_numpy())


def test_repeats_are_pandas_duplicated_with_missing_ids_never_repeated():
    ids = np.random.default_rng(3).integers(-1, 30, size=200)
    later, shared = fraud._repeats(ids)
    series = pd.Series(ids)
    np.testing.assert_array_equal(later, series.duplicated(keep="first").to_numpy() & (ids >= 0))
    np.testing.assert_array_equal(shared, series.duplicated(keep=False).to_numpy() & (ids >= 0))


def test_row_ids_group_the_rows_as_dataframe_duplicated_compares_them():
    g = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame({
        "text": pd.array(g.choice(["a", "b", None], size=n), dtype="string"),
        "when": pd.to_datetime(g.choice([0, 60, 120], size=n), unit="s", utc=True),
        "score": g.choice([1.0, 2.0, np.nan], size=n), "flag": g.choice([True, False], size=n)})
    frame.loc[::50, "when"] = pd.NaT
    ids = fraud._row_ids(frame)
    reference = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    # the same partition of the rows: ids and reference groups correspond one to one
    assert len(set(zip(ids, reference))) == len(set(ids)) == len(set(reference))
    np.testing.assert_array_equal(fraud._repeats(ids)[0], frame.duplicated(keep="first").to_numpy())


def test_score_strata_are_the_scores_as_text():
    resp = pd.DataFrame({"score": [5.0, 4.0, np.nan, 0.0, -0.0, 5.0, 10.0]}, index=[9, 8, 7, 6, 5, 4, 3])
    expected = resp["score"].astype("string").fillna("(missing)")
    strata = fraud._score_strata(resp)
    assert strata.tolist() == expected.tolist() and strata.index.equals(resp.index) and strata.name == "score"


def stuffed_export() -> pd.DataFrame:
    frame = export(300, agents=6, seed=1)
    stuffed = frame.index[frame["agent_id"] == "A2"][:6]
    frame.loc[stuffed, "customer_id"] = "C9999"                                # 6 ratings of A2 ...
    frame.loc[stuffed, "submitted_at"] = T0 + pd.to_timedelta(np.arange(6) * 3, unit="D")  # ... within 15 days
    frame.loc[stuffed, "interaction_at"] = frame.loc[stuffed, "submitted_at"] - pd.Timedelta(hours=2)
    return frame


def test_a_customer_rating_one_agent_again_and_again_fails_for_that_agent():
    result = duplicate_responses(prepared(stuffed_export()), rng())
    assert result.status == "fail"
    assert result.details["suspect_units"] == ["A2"]
    assert result.details["repeat_raters"] == [{"customer_id": "C9999", "unit": "A2", "responses": 6}]
    assert result.details["duplicates"]["repeat_rater"] == 5                  # all but the first


def test_repeat_rater_excess_is_tested_by_fisher_with_holm_across_agents():
    result = duplicate_responses(prepared(stuffed_export()), rng())
    per_unit = result.details["per_unit"]
    units = sorted(per_unit)
    x = np.array([per_unit[u]["flagged"] for u in units])
    n = np.array([per_unit[u]["responses"] for u in units])
    # scipy one-sided Fisher per agent vs the rest, statsmodels Holm
    p = [stats.fisher_exact([[x[i], n[i] - x[i]], [x.sum() - x[i], n.sum() - n[i] - x.sum() + x[i]]],
                            alternative="greater")[1] for i in range(len(units))]
    holm = multipletests(p, method="holm")[1]
    for u, expected in zip(units, holm):
        assert per_unit[u]["p_holm"] == pytest.approx(expected, rel=1e-8)


def test_customers_answering_two_surveys_are_normal():
    frame = export(200, agents=4, seed=2)
    frame.loc[frame.index[::10], "customer_id"] = frame.loc[frame.index[1::10], "customer_id"].to_numpy()
    result = duplicate_responses(prepared(frame), rng())
    assert result.status == "pass"
    assert result.details["customers_with_multiple"] == 20


def test_with_customer_ids_in_the_interactions_table_someone_elses_survey_is_flagged():
    frame = export(240, agents=4, seed=3)
    population = frame[["interaction_id", "agent_id", "customer_id", "interaction_at"]].copy()
    taken = frame.index[frame["agent_id"] == "A1"][:5]
    frame.loc[taken, "customer_id"] = "C7777"      # one customer answers five other customers' surveys
    result = duplicate_responses(prepared(frame, population), rng())
    assert result.status == "fail"
    assert "interactions table" in result.details["repeat_rule"]
    assert result.details["repeat_rater_responses"] == 5
    assert result.details["suspect_units"] == ["A1"]


def test_without_a_unit_column_repeat_raters_warn_but_cannot_be_tested_against_peers():
    frame = stuffed_export().drop(columns=["agent_id"])
    result = duplicate_responses(prepared(frame), rng())
    assert result.status == "warn"
    assert result.details["repeat_raters"] == [{"customer_id": "C9999", "unit": "(all)", "responses": 6}]
    assert result.details["suspect_units"] == []


def test_ballot_stuffing_in_a_simulated_audit_names_the_agent():
    sim, data = simulated(7, ("ballot_stuffing",))
    result = duplicate_responses(data, rng())
    assert result.status == "fail"
    assert sim.truth["agents"]["ballot_stuffing"] in result.details["suspect_units"]


# ---------------------------------------------------------------------------------------
# near_duplicates
# ---------------------------------------------------------------------------------------
def test_copied_answer_patterns_fail_and_name_the_agent_and_rows():
    sim, data = simulated(3, ("copied_answers",))
    result = near_duplicates(data, rng())
    assert result.status == "fail"
    top = result.details["flagged"][0]
    assert top["group"] == sim.truth["agents"]["copied_answers"]
    planted = source_rows(sim, sim.truth["planted_rows"]["copied_answers"])
    assert set(top["rows"]) <= planted | set(data.responses["_source_row"])
    assert len(planted & set(top["rows"])) >= min(len(planted), 20) - 2


def test_near_duplicates_reports_the_max_percent_match_distribution():
    sim, data = simulated(4)
    result = near_duplicates(data, rng())
    mpm = max_percent_match(sim.responses[[f"q_{j}" for j in range(1, 11)]].to_numpy(dtype=float))
    dist = result.details["max_percent_match"]
    assert dist["quantiles"]["0.5"] == pytest.approx(np.quantile(mpm, 0.5), rel=1e-12)
    assert dist["share_at_or_above_threshold"] == pytest.approx(np.mean(mpm >= 0.85), rel=1e-12)
    assert sum(dist["histogram"].values()) == len(mpm)
    assert result.statistic == pytest.approx(np.mean(mpm >= 0.85), rel=1e-12)


def test_shuffled_columns_shuffle_each_column_with_the_same_draws():
    x = np.random.default_rng(8).integers(1, 6, size=(50, 6)).astype(float)
    rows = np.arange(50) % 4 != 0
    reference, draws = rng(), rng()
    expected = np.column_stack([reference.permutation(x[rows, j]) for j in range(6)])
    np.testing.assert_array_equal(fraud._shuffled_columns(x[rows], draws), expected)
    assert draws.random() == reference.random()          # the checks after it draw the same numbers


def test_genuine_csat_answers_match_a_lot_without_failing():
    # README: ~20-25 % of genuine respondents reach >= 85 % match; that alone is no finding
    _, data = simulated(5)
    result = near_duplicates(data, rng())
    assert result.details["max_percent_match"]["share_at_or_above_threshold"] > 0.1
    assert result.status == "pass"


def test_without_a_unit_column_clusters_are_sought_by_week():
    sim, _ = simulated(3, ("copied_answers",))
    data = prepared(sim.responses.drop(columns=["agent_id"]))
    assert near_duplicates(data, rng()).details["grouping"] == "ISO week of submitted_at"


# ---------------------------------------------------------------------------------------
# timing_anomalies
# ---------------------------------------------------------------------------------------
def test_responses_days_before_their_interaction_fail():
    sim, data = simulated(8, ("before_interaction",))
    result = timing_anomalies(data, rng())
    before = result.details["before_interaction"]
    assert result.status == "fail"
    assert before["count"] == sim.truth["parameters"]["before_interaction"]["rows"]
    assert set(before["rows"]) <= source_rows(sim, sim.truth["planted_rows"]["before_interaction"])
    assert before["clock_offset"]["explained"] is False


def test_a_one_hour_clock_offset_on_one_channel_only_warns():
    sim, _ = simulated(3)
    frame = sim.responses.copy()
    chat = frame["channel"] == "chat"
    frame.loc[chat, "interaction_at"] += pd.Timedelta(hours=1)     # chat system writes UTC+1 as UTC
    result = timing_anomalies(prepared(frame), rng())
    assert result.status == "warn"
    assert result.details["before_interaction"]["clock_offset"] == pytest.approx(
        {"explained": True, "offset_s": 3600.0, "ks_p_value": result.details["before_interaction"]
         ["clock_offset"]["ks_p_value"]})
    assert "clock offset" in result.summary


def test_a_burst_of_responses_fails_and_names_the_agent_and_window():
    sim, data = simulated(9, ("burst",))
    result = timing_anomalies(data, rng())
    assert result.status == "fail"
    burst = result.details["bursts"][0]
    assert burst["unit"] == sim.truth["agents"]["burst"]
    planted_start = pd.Timestamp(sim.truth["parameters"]["burst"]["start"])
    assert abs(pd.Timestamp(burst["start"]) - planted_start) <= pd.Timedelta(minutes=10)
    assert burst["count"] >= sim.truth["parameters"]["burst"]["responses"]


def test_burst_p_values_are_holm_adjusted_across_agents():
    _, data = simulated(9, ("burst",))
    per_unit = timing_anomalies(data, rng()).details["burst_test"]["per_unit"]
    units = list(per_unit)
    holm = multipletests([per_unit[u]["p_value"] for u in units], method="holm")[1]   # statsmodels
    np.testing.assert_allclose([per_unit[u]["p_holm"] for u in units], holm, rtol=1e-12)


def test_interaction_times_come_from_the_interactions_table_when_responses_lack_them():
    sim, with_times = simulated(8, ("before_interaction",))
    from_population = prepared(sim.responses.drop(columns=["interaction_at"]), sim.population)
    a = timing_anomalies(with_times, rng()).details["before_interaction"]
    b = timing_anomalies(from_population, rng()).details["before_interaction"]
    assert a["count"] == b["count"] > 0 and a["rows"] == b["rows"]


def test_without_interaction_times_or_units_timing_says_what_it_could_not_test():
    frame = export(50).drop(columns=["interaction_at", "agent_id"])
    result = timing_anomalies(prepared(frame), rng())
    assert result.status == "pass" and result.details["burst_test"]["units_tested"] == 0
    assert "could be tested" in result.summary


def test_without_interaction_times_bursts_are_tested_against_the_peers_arrivals():
    frame = export(300, agents=5, seed=8).drop(columns=["interaction_at"])
    burst = frame.index[frame["agent_id"] == "A4"][:12]
    frame.loc[burst, "submitted_at"] = T0 + pd.Timedelta(days=20) + pd.to_timedelta(np.arange(12) * 30, unit="s")
    result = timing_anomalies(prepared(frame), rng())
    assert result.status == "fail" and result.details["bursts"][0]["unit"] == "A4"
    assert result.details["burst_test"]["null"] == "peers' submission times"


def test_timing_reports_the_lag_distribution():
    sim, data = simulated(10)
    lags = timing_anomalies(data, rng()).details["lags"]
    seconds = (sim.responses["submitted_at"] - sim.responses["interaction_at"]).dt.total_seconds()
    assert lags["quantiles"]["0.5"] == pytest.approx(np.quantile(seconds, 0.5), rel=1e-12)
    assert set(lags["per_unit"]) == set(sim.responses["agent_id"])


def test_timing_reports_each_agents_lag_quartiles_as_numpy_computes_them():
    sim, data = simulated(10)
    per_unit = timing_anomalies(data, rng()).details["lags"]["per_unit"]
    seconds = (sim.responses["submitted_at"] - sim.responses["interaction_at"]).dt.total_seconds()
    for agent, lag in seconds.groupby(sim.responses["agent_id"]):
        q25, median, q75 = np.quantile(lag.to_numpy(), [0.25, 0.5, 0.75])
        assert per_unit[agent] == pytest.approx({"median": median, "q25": q25, "q75": q75, "n": lag.size},
                                                rel=1e-12)
    assert list(per_unit) == sorted(per_unit)


# ---------------------------------------------------------------------------------------
# straightlining
# ---------------------------------------------------------------------------------------
METHODS_X = [[5, 4, 5, 5, 3, 4, 5, 2, 4, 5], [5, 4, 5, 5, 3, 4, 5, 2, 4, 4], [1, 2, 3, 4, 5, 1, 2, 3, 4, 5],
             [5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [2, 3, 3, 4, 4, 1, 5, 2, 3, 3]]


def test_straightlining_share_reproduces_the_methods_example():
    frame = pd.DataFrame(METHODS_X, columns=[f"q_{j}" for j in range(1, 11)]).assign(score=[5, 5, 3, 5, 5, 3])
    result = straightlining(prepared(frame), rng())
    # METHODS §8.3: rows 3, 4 -> share 0.3333; longstring [2, 2, 1, 10, 10, 2]
    assert result.details["share"] == pytest.approx(1 / 3, rel=1e-12)
    assert result.details["longstring"]["histogram"] == {1: 1, 2: 3, 10: 2}
    assert result.details["share_top"] == pytest.approx(1 / 3, rel=1e-12)


def test_planted_straightlining_fails_on_middle_answers():
    _, data = simulated(11, ("straightlining",))
    result = straightlining(data, rng())
    assert result.status == "fail"
    assert result.details["midscale"]["ci_low"] > 0.02


def test_all_top_grids_alone_are_not_a_finding():
    frame = export(400, items=6, seed=4)
    top = frame.index[frame["score"] == 5][:40]
    frame.loc[top, [f"q_{j}" for j in range(1, 7)]] = 5       # 10 % answer all-5, spread over agents
    result = straightlining(prepared(frame), rng())
    assert result.status == "pass" and result.details["share_top"] >= 0.1


def test_a_single_middle_straightliner_is_not_a_finding():
    frame = export(40, items=6, seed=7)
    frame.loc[0, [f"q_{j}" for j in range(1, 7)]] = 3
    result = straightlining(prepared(frame), rng())
    assert result.details["midscale"]["count"] == 1 and result.status == "pass"


def test_one_agents_straightliners_beyond_its_peers_at_the_same_score_fail():
    frame = export(500, agents=5, seed=5, items=6)
    mine = frame.index[frame["agent_id"] == "A3"][:25]
    frame.loc[mine, [f"q_{j}" for j in range(1, 7)]] = 5
    frame.loc[mine, "score"] = 5
    result = straightlining(prepared(frame), rng())
    assert result.status == "fail" and result.details["suspect_units"] == ["A3"]
    # reference: the exact score-stratified test (tests/test_integrity.py) with statsmodels Holm
    data = prepared(frame)
    flags = (frame[[f"q_{j}" for j in range(1, 7)]].nunique(axis=1) == 1).to_numpy()
    test = stratified_excess_tests(flags, frame["agent_id"], data.responses["score"].astype(str))
    holm = multipletests(test.p_values, method="holm")[1]
    assert result.details["per_unit"]["A3"]["p_holm"] == pytest.approx(holm[test.labels.index("A3")], rel=1e-8)


# ---------------------------------------------------------------------------------------
# speeding
# ---------------------------------------------------------------------------------------
METHODS_TIMES = [95, 110, 42, 130, 88, 20, 101, 76, 64, 150, 18, 92]


def test_speeding_reproduces_the_methods_example():
    frame = pd.DataFrame({"score": [5] * 12, "duration_s": METHODS_TIMES})
    result = speeding(prepared(frame), rng())
    # METHODS §8.4: median 90, threshold 27 s, speeders rows 5 and 10, share 0.1666666667
    assert result.details["threshold_s"] == pytest.approx(27.0, rel=1e-12)
    assert result.details["share"] == pytest.approx(0.1666666667, rel=1e-9)
    assert result.details["rows"] == [7, 12]
    # statsmodels Wilson interval of 2/12
    low, high = proportion_confint(2, 12, method="wilson")
    assert (result.details["ci_low"], result.details["ci_high"]) == pytest.approx((low, high), rel=1e-8)


def test_two_speeders_are_too_few_to_call():
    frame = pd.DataFrame({"score": [5] * 12, "duration_s": METHODS_TIMES})
    assert speeding(prepared(frame), rng()).status == "pass"     # 2 < 3 rows, Wilson low 4.7 % < 5 %


def test_a_sizeable_share_of_speeders_fails():
    frame = export(300, seed=6)
    frame.loc[frame.index[:30], "duration_s"] = 20.0             # 10 %: Wilson lower bound above 5 %
    result = speeding(prepared(frame), rng())
    assert result.status == "fail" and result.details["count"] == 30


def test_speeding_threshold_fraction_is_configurable():
    frame = pd.DataFrame({"score": [5] * 12, "duration_s": METHODS_TIMES})
    result = speeding(prepared(frame), rng(), fraction=0.5)
    assert result.details["threshold_s"] == pytest.approx(45.0) and result.details["count"] == 3


def test_planted_speeders_fail_and_the_metric_is_shown_without_them():
    sim, data = simulated(12, ("speeding",))
    result = speeding(data, rng())
    assert result.status == "fail"
    fast = sim.responses["duration_s"] < result.details["threshold_s"]
    top = sim.responses["score"] >= 4
    metric = result.details["metric_without_speeders"]
    assert metric["without"] == pytest.approx(top[~fast].mean(), rel=1e-12)
    assert metric["with"] == pytest.approx(top.mean(), rel=1e-12)


# ---------------------------------------------------------------------------------------
# calibration and power on seeded simulated audits
# ---------------------------------------------------------------------------------------
N_CLEAN = 100
N_FLAWED = 20
FLAW_CHECK = {"ballot_stuffing": "duplicate_responses", "copied_answers": "near_duplicates",
              "burst": "timing_anomalies", "before_interaction": "timing_anomalies",
              "straightlining": "straightlining", "speeding": "speeding"}


def test_the_interactions_table_does_not_change_these_checks_on_simulated_data():
    # the calibration below omits the (slow to load) interactions table: the checks read it
    # only for customer ids or missing interaction times, which simulated exports do not need
    _, with_population = simulated(13, ("ballot_stuffing", "burst"), with_population=True)
    _, without = simulated(13, ("ballot_stuffing", "burst"))
    for check in CHECKS.values():
        assert check(with_population, rng()).to_dict() == check(without, rng()).to_dict()


@pytest.fixture(scope="module")
def clean_statuses() -> list[dict[str, str]]:
    runs = []
    for i in range(N_CLEAN):
        _, data = simulated(50_000 + i)
        runs.append({cid: check(data, np.random.default_rng(i)).status for cid, check in CHECKS.items()})
    return runs


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_clean_audits_fail_each_check_in_at_most_five_percent_of_runs(clean_statuses, check_id):
    fails = sum(run[check_id] == "fail" for run in clean_statuses)
    assert fails <= 0.05 * N_CLEAN, f"{check_id} failed {fails}/{N_CLEAN} clean audits"


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_clean_audits_run_every_check(clean_statuses, check_id):
    # a check that stopped running would pass calibration trivially
    assert Counter(run[check_id] for run in clean_statuses)["not_applicable"] == 0


@pytest.mark.parametrize("flaw", list(FLAW_CHECK))
def test_planted_flaw_is_flagged_in_ninety_percent_and_failed_in_most_runs(flaw):
    check = CHECKS[FLAW_CHECK[flaw]]
    statuses = Counter(check(simulated(60_000 + 100 * list(FLAW_CHECK).index(flaw) + i, (flaw,))[1],
                             np.random.default_rng(i)).status for i in range(N_FLAWED))
    assert statuses["fail"] + statuses["warn"] >= 0.9 * N_FLAWED, f"{flaw}: {dict(statuses)}"
    assert statuses["fail"] > 0.5 * N_FLAWED, f"{flaw}: {dict(statuses)}"


def test_unit_labels_for_the_group_scans_are_the_labels_with_one_string_per_distinct_value():
    # reference: Series.to_numpy(), which makes a Python string per row
    from audit.checks.fraud import _label_array

    labels = pd.Series(["A07", "B12", "A07", "(no unit)", "B12"] * 3, dtype="str")
    got = _label_array(labels)
    assert got.dtype == object
    assert got.tolist() == labels.to_numpy().tolist()
    assert got[0] is got[2] and got[1] is got[4]


def test_answer_checks_on_float32_answers_equal_those_on_float64():
    # reference: the same checks with the loader's float32 answers widened to float64
    from dataclasses import replace

    _, data = simulated(4, ("copied_answers", "straightlining"))
    items = [c for c in data.responses.columns if c.startswith("q_")]
    assert all(data.responses[c].dtype == np.float32 for c in items)
    wide = replace(data, responses=data.responses.astype({c: "float64" for c in items}))
    assert near_duplicates(data, rng()) == near_duplicates(wide, rng())
    assert straightlining(data, rng()) == straightlining(wide, rng())
