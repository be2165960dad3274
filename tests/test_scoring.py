"""The credibility rubric: bounded, graded as documented, and monotone (a worse finding
never raises the score)."""
import itertools

import numpy as np
import pytest

from audit.results import CheckResult
from audit.scoring import (
    CAP_DOUBTFUL_WINNER,
    CAP_NO_POPULATION,
    CAP_UNSUPPORTED_CLAIM,
    WEIGHTS,
    credibility_score,
    grade_for,
)

ACTIVE = ("data_quality", "sample_size", "response_rate", "response_rate_skew",
          "invitation_selectivity", "representativeness", "nonresponse_adjustment", "claim_significance")
ORDER = ("pass", "warn", "fail")


def checks(statuses: dict[str, str]) -> list[CheckResult]:
    return [CheckResult(cid, statuses.get(cid, "not_applicable"), cid, "") for cid in WEIGHTS]


def score_of(statuses: dict[str, str]) -> int:
    return credibility_score(checks(statuses))[0]


def test_all_pass_scores_100_and_grade_a():
    assert score_of({c: "pass" for c in ACTIVE}) == 100
    assert grade_for(100) == "A"


@pytest.mark.parametrize("score,grade", [(85, "A"), (84, "B"), (70, "B"), (69, "C"), (55, "C"),
                                         (54, "D"), (40, "D"), (39, "F"), (0, "F")])
def test_grade_boundaries(score, grade):
    assert grade_for(score) == grade


def test_worse_status_never_raises_the_score_exhaustively():
    # every combination of pass/warn/fail over the eight active checks (3^8 = 6561 reports),
    # each check worsened one step at a time
    for combo in itertools.product(range(3), repeat=len(ACTIVE)):
        base = {c: ORDER[i] for c, i in zip(ACTIVE, combo)}
        s = score_of(base)
        assert 0 <= s <= 100
        for c, i in zip(ACTIVE, combo):
            if i < 2:
                assert score_of({**base, c: ORDER[i + 1]}) <= s


def test_unsupported_claim_caps_the_score():
    s = score_of({**{c: "pass" for c in ACTIVE}, "claim_significance": "fail"})
    assert s <= CAP_UNSUPPORTED_CLAIM and grade_for(s) in ("D", "F")


def test_missing_population_cannot_earn_an_a():
    statuses = {c: "pass" for c in ("data_quality", "sample_size", "claim_significance")}
    assert score_of(statuses) == CAP_NO_POPULATION
    assert grade_for(CAP_NO_POPULATION) != "A"


def test_not_applicable_checks_deduct_nothing():
    _, deductions, _ = credibility_score(checks({c: "pass" for c in ACTIVE}))
    assert deductions == {}


def award_checks(statuses: dict[str, str], *, winner_signals: tuple[str, ...] = ()) -> list[CheckResult]:
    """All checks for a best_unit claim: rank_uncertainty knows an award is claimed and
    score_inflation lists the claimed unit's signals."""
    details = {"rank_uncertainty": {"award_claimed": True},
               "score_inflation": {"claimed_unit": {"unit": "A07", "signals": list(winner_signals)}}}
    return [CheckResult(cid, statuses.get(cid, "pass"), cid, "", details=details.get(cid, {})) for cid in WEIGHTS]


def test_a_winner_whose_rank_set_spans_other_units_cannot_get_an_a():
    score, _, caps = credibility_score(award_checks({"rank_uncertainty": "warn"}))
    assert score == CAP_DOUBTFUL_WINNER and grade_for(score) == "B" and len(caps) == 1


def test_a_winner_with_padded_ratings_cannot_get_an_a():
    score, _, _ = credibility_score(award_checks({}, winner_signals=("repeat_ratings",)))
    assert score == CAP_DOUBTFUL_WINNER


def test_a_clear_clean_winner_can_get_an_a():
    assert credibility_score(award_checks({}))[0] == 100


def test_rank_uncertainty_without_an_award_does_not_cap():
    # a level claim: rank_uncertainty describes the league table but no award is at stake
    checks_ = [CheckResult(c, "pass", c, "", details={"award_claimed": False} if c == "rank_uncertainty" else {})
               for c in WEIGHTS]
    assert credibility_score(checks_)[0] == 100


def test_worse_status_or_an_extra_winner_signal_never_raises_the_score():
    # 3^16 combinations are too many to enumerate: 3000 seeded random reports over all
    # sixteen checks, each worsened one check at a time and given a winner signal
    rng = np.random.default_rng(7)
    ids = list(WEIGHTS)
    for _ in range(3000):
        base = {c: ORDER[i] for c, i in zip(ids, rng.integers(0, 3, size=len(ids)))}
        s = credibility_score(award_checks(base))[0]
        assert credibility_score(award_checks(base, winner_signals=("burst",)))[0] <= s
        for c in ids:
            if base[c] != "fail":
                worse = {**base, c: ORDER[ORDER.index(base[c]) + 1]}
                assert credibility_score(award_checks(worse))[0] <= s


def test_a_cap_is_listed_only_when_it_lowered_the_score():
    # everything fails: the deductions alone bring the score far below every cap
    score, _, caps = credibility_score(checks({c: "fail" for c in WEIGHTS}))
    assert score == 0 and caps == ()


def test_a_good_grade_with_a_failed_check_is_not_called_problem_free():
    from audit.claim import Claim
    from audit.headline import MetricResult
    from audit.scoring import assess
    statuses = {c: "pass" for c in ACTIVE} | {"speeding": "fail"}
    metric = MetricResult(name="top2box", estimate=0.9, ci_low=0.88, ci_high=0.92, ci_method="wilson", n=1000, se=0.01)
    result = assess(checks(statuses), Claim(metric="top2box", scale=(1, 5)), metric)
    assert result.grade == "A"
    assert "no material problem" not in result.verdict and "with reservations" in result.verdict
