"""Calibration and power of the engine's checks on seeded simulations with known truth.

Clean audits (MCAR invitation and response) must not cry wolf: each check fails in at
most 5 % of 200 runs, and the checks gated by a test at alpha = 0.05 flag (warn or fail)
no more often than that level allows (the binomial 99 % upper bound of 5 % in 200 runs,
8.6 %). Planted flaws must be flagged by the check built for them in at least 90 % of runs.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from audit.claim import parse_claim
from audit.data import prepare
from audit.loading import load_population, load_responses
from audit.pipeline import survey_process_checks
from audit.simulation import simulate_contact_center

N_CLEAN = 200
N_FLAWED = 100
ENGINE_CHECKS = ("data_quality", "sample_size", "response_rate", "response_rate_skew",
                 "invitation_selectivity", "representativeness", "nonresponse_adjustment",
                 "claim_significance")


def audit_statuses(seed: int, flaws: tuple[str, ...] = ()) -> dict[str, str]:
    """Statuses of the survey-process checks on one seeded simulated audit (loaded through
    the same loader and linkage as `run_audit`)."""
    sim = simulate_contact_center(np.random.default_rng(seed), n_interactions=3000, flaws=flaws)
    data = prepare(load_responses(sim.responses), load_population(sim.population), parse_claim(sim.claim))
    checks = survey_process_checks(data, np.random.default_rng(seed), n_simulations=2000)
    return {c.id: c.status for c in checks}


@pytest.fixture(scope="module")
def clean_runs() -> list[dict[str, str]]:
    return [audit_statuses(10_000 + i) for i in range(N_CLEAN)]


@pytest.mark.parametrize("check_id", ENGINE_CHECKS)
def test_clean_audits_fail_each_check_at_most_five_percent(clean_runs, check_id):
    fails = sum(run[check_id] == "fail" for run in clean_runs)
    assert fails <= 0.05 * N_CLEAN, f"{check_id} failed {fails}/{N_CLEAN} clean audits"


@pytest.mark.parametrize("check_id", ["response_rate_skew", "invitation_selectivity", "representativeness"])
def test_clean_audits_flag_test_gated_checks_at_the_nominal_level(clean_runs, check_id):
    flagged = sum(run[check_id] in ("warn", "fail") for run in clean_runs)
    assert flagged <= 0.086 * N_CLEAN, f"{check_id} flagged {flagged}/{N_CLEAN} clean audits"


def test_clean_audits_run_every_engine_check(clean_runs):
    # a check that silently stops running would pass calibration trivially
    for check_id in ENGINE_CHECKS:
        assert Counter(run[check_id] for run in clean_runs)["not_applicable"] == 0, check_id


@pytest.mark.parametrize("flaw,check_id", [
    ("selective_invitation", "invitation_selectivity"),
    ("channel_skew", "response_rate_skew"),
    ("happy_respond_more", "representativeness"),
])
def test_planted_flaw_is_flagged_in_ninety_percent_of_runs(flaw, check_id):
    hits = sum(audit_statuses(20_000 + i, (flaw,))[check_id] in ("warn", "fail") for i in range(N_FLAWED))
    assert hits >= 0.9 * N_FLAWED, f"{flaw}: {check_id} flagged only {hits}/{N_FLAWED}"
