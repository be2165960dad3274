"""The audit end to end: SPEC contract of report.json, determinism, the CLI's exit codes,
and what the bundled sample audits find."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from audit import InputError, run_audit
from audit.pipeline import DEFAULT_SEED
from audit.render import findings_csv, report_html, report_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
CLEAN = ROOT / "sample_data" / "clean"
SPEC_IDS = ["data_quality", "sample_size", "response_rate", "response_rate_skew", "invitation_selectivity",
            "representativeness", "nonresponse_adjustment", "claim_significance", "rank_uncertainty",
            "funnel_outliers", "duplicate_responses", "near_duplicates", "timing_anomalies", "straightlining",
            "speeding", "score_inflation"]


@pytest.fixture(scope="module")
def sample_report():
    return run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")


@pytest.fixture(scope="module")
def sample_dict(sample_report):
    return json.loads(report_json(sample_report))


def test_report_has_the_spec_top_level_keys(sample_dict):
    assert sample_dict["schema_version"] == "1"
    assert {"inputs", "claim", "metric", "credibility", "checks"} <= set(sample_dict)
    assert {"rows", "sha256"} <= set(sample_dict["inputs"]["responses"])
    assert {"rows", "sha256"} <= set(sample_dict["inputs"]["population"])
    assert {"name", "estimate", "ci_low", "ci_high", "ci_method", "n", "adjusted_estimate"} <= set(sample_dict["metric"])
    assert {"score", "grade", "verdict"} <= set(sample_dict["credibility"])


def test_every_spec_check_id_appears_once_in_spec_order(sample_dict):
    assert [c["id"] for c in sample_dict["checks"]] == SPEC_IDS


def test_every_check_has_the_spec_keys_and_a_valid_status(sample_dict):
    for check in sample_dict["checks"]:
        assert {"id", "status", "title", "summary", "statistic", "p_value", "effect_size", "details"} <= set(check)
        assert check["status"] in ("pass", "warn", "fail", "not_applicable")
        assert check["summary"]


@pytest.mark.parametrize("check_id,keys", [
    ("data_quality", {"rows_dropped", "reasons"}),
    ("sample_size", {"n", "margin_of_error"}),
    ("response_rate", {"invited", "responded", "rate"}),
    ("representativeness", {"asmd", "r_indicator"}),
    ("nonresponse_adjustment", {"claimed", "adjusted", "design_effect", "effective_n"}),
    ("claim_significance", {"test", "p_value", "difference", "ci_low", "ci_high"}),
])
def test_check_details_carry_the_spec_keys(sample_dict, check_id, keys):
    check = next(c for c in sample_dict["checks"] if c["id"] == check_id)
    assert keys <= set(check["details"])


def test_skew_details_are_per_segment_column(sample_dict):
    details = next(c for c in sample_dict["checks"] if c["id"] == "response_rate_skew")["details"]
    assert {"channel", "region", "agent_id"} <= set(details)
    for column in details.values():
        assert {"chi2", "dof", "p_value", "cramers_v", "rates"} <= set(column)


def test_selectivity_details_are_per_covariate(sample_dict):
    details = next(c for c in sample_dict["checks"] if c["id"] == "invitation_selectivity")["details"]
    assert "asmd" in details["resolved"] and "difference" in details["resolved"]["levels"]["1"]
    assert {"asmd", "invited", "not_invited", "difference"} <= set(details["handle_time_s"])


def test_row_ledger_balances(sample_dict):
    d = next(c for c in sample_dict["checks"] if c["id"] == "data_quality")["details"]
    assert d["rows_read"] == d["rows_used"] + d["rows_dropped"]
    assert d["rows_dropped"] == sum(d["reasons"].values())


def test_same_inputs_give_a_byte_identical_report(sample_report):
    again = run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim.json")
    assert report_json(again) == report_json(sample_report)


def test_cli_report_is_byte_identical_across_processes_hash_seeds_and_folders(tmp_path, sample_report):
    # two processes with different string hashing (PYTHONHASHSEED), working directories, relative
    # vs absolute paths and output folders write the same bytes as this process's report
    runs = []
    for hash_seed, cwd, out in (("0", tmp_path / "a", "out"), ("4242", tmp_path / "b", tmp_path / "b" / "x" / "y")):
        cwd.mkdir()
        inputs = [os.path.relpath(SAMPLE / f, cwd) if hash_seed == "0" else str(SAMPLE / f)
                  for f in ("responses.csv", "interactions.csv", "claim.json")]
        command = [sys.executable, "-m", "audit", "run", inputs[0], "--population", inputs[1], "--claim", inputs[2],
                   "--out", str(out), "--format", "json"]
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        runs.append((subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True), cwd / out))
    written = []
    for process, out in runs:
        assert process.wait(timeout=300) == 0, process.stderr.read()
        written.append((out / "report.json").read_bytes())
    assert written[0] == written[1] == report_json(sample_report).encode("utf-8")
    assert json.loads(written[0])["audit"]["seed"] == DEFAULT_SEED      # the seed is in the report


def test_planted_sample_is_not_credible_and_names_the_planted_flaws(sample_report):
    status = {c.id: c.status for c in sample_report.checks}
    assert sample_report.credibility.grade in ("D", "F")
    # sample_data/README.md: selective invitation, channel skew, happier customers respond more
    assert status["invitation_selectivity"] == "fail"
    assert status["response_rate_skew"] == "fail"
    assert status["representativeness"] == "fail"
    assert "channel" in sample_report.check("response_rate_skew").summary


def test_sample_score_inflation_names_only_agents_with_planted_gaming(sample_report):
    # sample_data/contact_center/truth.json: A37 begs (selective offers, high response),
    # A18 has a burst of fabricated responses, A01 is ballot-stuffed
    truth = json.loads((SAMPLE / "truth.json").read_text())
    check = sample_report.check("score_inflation")
    suspects = {e["unit"]: set(e["signals"]) for e in check.details["suspect_units"]}
    assert check.status == "fail"
    assert truth["agents"]["begging_agent"] in suspects
    assert {"selective_offers", "response_rate"} <= suspects[truth["agents"]["begging_agent"]]
    assert set(suspects) <= set(truth["flagged_agents"])


def test_clean_sample_earns_a_good_grade_without_failures():
    report = run_audit(CLEAN / "responses.csv", CLEAN / "interactions.csv", CLEAN / "claim.json")
    assert report.credibility.grade in ("A", "B")
    assert not [c.id for c in report.checks if c.status == "fail"]


def test_headline_without_population_is_statsmodels_wilson():
    responses = pd.read_csv(SAMPLE / "responses.csv")
    report = run_audit(responses)
    k = int((responses["score"] >= 4).sum())
    low, high = proportion_confint(k, len(responses), alpha=0.05, method="wilson")
    assert report.metric.estimate == pytest.approx(k / len(responses), rel=1e-12)
    assert (report.metric.ci_low, report.metric.ci_high) == pytest.approx((low, high), rel=1e-10)


def test_without_population_bias_checks_say_why_and_the_score_is_capped():
    report = run_audit(pd.read_csv(SAMPLE / "responses.csv"))
    for cid in ("response_rate", "response_rate_skew", "invitation_selectivity", "representativeness",
                "nonresponse_adjustment"):
        assert report.check(cid).status == "not_applicable"
        assert "interactions" in report.check(cid).summary
    assert report.credibility.score <= 79


def test_best_unit_claim_measures_the_unit_and_corrects_for_selection():
    report = run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim_award.json")
    responses = pd.read_csv(SAMPLE / "responses.csv")
    unit = json.loads((SAMPLE / "claim_award.json").read_text())["unit"]
    mine = responses.loc[responses["agent_id"] == unit, "score"]
    assert report.metric.n == len(mine)
    assert report.metric.estimate == pytest.approx((mine >= 4).mean(), rel=1e-12)
    check = report.check("claim_significance")
    assert check.details["p_value"] == pytest.approx(min(1.0, check.details["p_value_unadjusted"] * check.details["units"]))


def test_change_claim_compares_the_two_periods():
    report = run_audit(SAMPLE / "responses.csv", SAMPLE / "interactions.csv", SAMPLE / "claim_change.json")
    claim = json.loads((SAMPLE / "claim_change.json").read_text())
    responses = pd.read_csv(SAMPLE / "responses.csv")
    after = responses.loc[responses[claim["period_column"]] == claim["after"], "score"]
    before = responses.loc[responses[claim["period_column"]] == claim["before"], "score"]
    assert report.check("claim_significance").details["difference"] == pytest.approx(
        (after >= 4).mean() - (before >= 4).mean(), rel=1e-12)


def test_findings_csv_has_one_row_per_check(sample_report):
    rows = list(csv.DictReader(io.StringIO(findings_csv(sample_report))))
    assert [r["id"] for r in rows] == SPEC_IDS


def test_html_escapes_user_text():
    responses = pd.read_csv(CLEAN / "responses.csv")
    report = run_audit(responses, claim={"title": "<script>alert(1)</script>", "value": 0.9})
    page = report_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_claim_naming_an_unknown_unit_is_an_input_error():
    with pytest.raises(InputError, match="unit 'Z99'"):
        run_audit(SAMPLE / "responses.csv", claim={"type": "best_unit", "unit": "Z99"})


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_writes_the_three_files_and_exits_0(tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", str(SAMPLE / "responses.csv"), "--population", str(SAMPLE / "interactions.csv"),
                     "--claim", str(SAMPLE / "claim.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["findings.csv", "report.html", "report.json"]
    assert json.loads((out / "report.json").read_text())["schema_version"] == "1"


def test_cli_unusable_input_exits_2_with_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "export.csv"
    bad.write_text("name,comment\nann,great\nbob,poor\n")
    result = run_cli("run", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "export.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_file_exits_2(tmp_path):
    result = run_cli("run", str(tmp_path / "nope.csv"))
    assert result.returncode == 2 and "nope.csv" in result.stderr


def test_cli_without_its_dependencies_exits_1_naming_the_fix(tmp_path):
    # a Python without pandas (simulated by blocking the import) gets one line, no traceback
    code = ("import sys; sys.modules['pandas'] = None; from audit.cli import main; "
            f"sys.exit(main(['run', {str(CLEAN / 'responses.csv')!r}, '--out', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "pandas" in result.stderr and "pip install -r requirements.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_column_flag_maps_a_header(tmp_path):
    frame = pd.read_csv(CLEAN / "responses.csv").rename(columns={"score": "How did we do"})
    path = tmp_path / "renamed.csv"
    frame.to_csv(path, index=False)
    result = run_cli("run", str(path), "--column", "score=How did we do", "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr


def test_cli_help_documents_the_run_command():
    result = run_cli("run", "--help")
    assert result.returncode == 0 and "--population" in result.stdout and "exit codes" in result.stdout


def test_nps_claim_is_reported_in_points():
    from audit.simulation import simulate_contact_center
    sim = simulate_contact_center(np.random.default_rng(7), scale=(0, 10), metric="nps")
    report = run_audit(sim.responses, claim=sim.claim)
    s = sim.responses["score"].to_numpy()
    # Reichheld (2003): % promoters (9-10) minus % detractors (0-6)
    assert report.metric.name == "nps"
    assert report.metric.estimate == pytest.approx(100 * ((s >= 9).mean() - (s <= 6).mean()), rel=1e-12)
    assert report.metric.ci_low < report.metric.estimate < report.metric.ci_high


def test_mean_claim_without_population_is_the_t_interval():
    from statsmodels.stats.weightstats import DescrStatsW
    responses = pd.read_csv(CLEAN / "responses.csv")
    report = run_audit(responses, claim={"metric": "mean"})
    low, high = DescrStatsW(responses["score"].to_numpy(float)).tconfint_mean(alpha=0.05)
    assert report.metric.estimate == pytest.approx(responses["score"].mean(), rel=1e-12)
    assert (report.metric.ci_low, report.metric.ci_high) == pytest.approx((low, high), rel=1e-10)


def _two_periods(first: list[int], second: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"score": first + second, "period": ["Q2"] * len(first) + ["Q3"] * len(second)})


def test_published_rise_is_not_supported_by_a_significant_fall():
    responses = _two_periods([5] * 240 + [2] * 60, [5] * 150 + [2] * 150)   # 80 % -> 50 %
    claim = {"type": "change", "metric": "top2box", "period_column": "period", "before": "Q2", "after": "Q3",
             "value": 0.05}
    assert run_audit(responses, claim=claim).check("claim_significance").status == "fail"


def test_published_rise_that_happened_is_supported():
    responses = _two_periods([5] * 150 + [2] * 150, [5] * 240 + [2] * 60)   # 50 % -> 80 %
    claim = {"type": "change", "metric": "top2box", "period_column": "period", "before": "Q2", "after": "Q3",
             "value": 30}
    assert run_audit(responses, claim=claim).check("claim_significance").status == "pass"


def test_population_where_nobody_was_invited_still_gives_a_report():
    responses = pd.read_csv(CLEAN / "responses.csv")
    population = pd.read_csv(CLEAN / "interactions.csv").assign(invited=0)
    report = run_audit(responses, population)
    assert report.check("invitation_selectivity").status == "fail"
    assert report.credibility.grade not in ("A", "B")


def test_best_unit_column_known_only_for_interactions_is_linked_in():
    responses = pd.read_csv(CLEAN / "responses.csv")
    population = pd.read_csv(CLEAN / "interactions.csv")
    claim = {"type": "best_unit", "unit_column": "agent_id", "unit": "A05"}
    with_unit = run_audit(responses, population, claim)
    without_unit = run_audit(responses.drop(columns="agent_id"), population, claim)
    assert without_unit.metric.n == with_unit.metric.n
    assert without_unit.metric.estimate == pytest.approx(with_unit.metric.estimate, rel=1e-12)


def test_nps_claim_on_data_without_zeros_is_still_on_zero_to_ten():
    scores = np.random.default_rng(3).integers(1, 11, size=300)
    report = run_audit(pd.DataFrame({"score": scores}), claim={"metric": "nps"})
    assert report.metric.estimate == pytest.approx(100 * ((scores >= 9).mean() - (scores <= 6).mean()))
