"""The credibility rubric: bounded, graded as documented, and monotone (a worse finding
never raises the score)."""
import itertools

import pytest

from audit.results import CheckResult
from audit.scoring import CAP_NO_POPULATION, CAP_UNSUPPORTED_CLAIM, WEIGHTS, credibility_score, grade_for

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
