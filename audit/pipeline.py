"""`run_audit`: files in, report object out. The CLI and the app only call this."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from audit.checks.awards import funnel_outliers, rank_uncertainty
from audit.checks.bias import invitation_selectivity, nonresponse_adjustment, representativeness
from audit.checks.claim import claim_significance
from audit.checks.fraud import duplicate_responses, near_duplicates, speeding, straightlining, timing_anomalies
from audit.checks.inflation import score_inflation
from audit.checks.quality import data_quality, sample_size
from audit.checks.response import response_rate, response_rate_skew
from audit.claim import Claim, load_claim
from audit.data import AuditData, claim_population_size, claim_responses, prepare, unread_population_columns
from audit.headline import MetricResult, headline_metric
from audit.engine import Engine, make_engine
from audit.limits import Limits, return_freed_memory
from audit.loading import LoadedTable, load_population, load_responses
from audit.pii import PiiScan, scan_audit_data
from audit.population_file import RegisteredPopulation, open_population_file
from audit.results import CheckResult, jsonable
from audit.scoring import Credibility, assess

SCHEMA_VERSION = "1"
ENGINE_VERSION = "0.1.0"
DEFAULT_SEED = 20240601
LARGE_AUDIT_RESPONSES = 100_000    # from here on a garbage collection after each check pays for itself
CHECK_ORDER = ("data_quality", "sample_size", "response_rate", "response_rate_skew",
               "invitation_selectivity", "representativeness", "nonresponse_adjustment",
               "claim_significance", "rank_uncertainty", "funnel_outliers", "duplicate_responses",
               "near_duplicates", "timing_anomalies", "straightlining", "speeding", "score_inflation")


@dataclass(frozen=True)
class AuditReport:
    """The audit's result: SPEC report.json keys plus the data behind them (for drawing).

    In `to_dict()` (report.json, and every export drawn from it) the personal data found in
    the inputs (`privacy`: e-mail addresses, phone numbers, names; see `audit.pii`) is hashed
    or redacted unless `keep_pii`; the objects themselves hold the data as read."""

    inputs: Mapping[str, Any]
    claim: Claim
    metric: MetricResult
    credibility: Credibility
    checks: tuple[CheckResult, ...]
    settings: Mapping[str, Any]
    data: AuditData | None = field(default=None, compare=False, repr=False)
    privacy: PiiScan = field(default_factory=PiiScan)
    keep_pii: bool = False
    schema_version: str = SCHEMA_VERSION

    def check(self, check_id: str) -> CheckResult:
        return next(c for c in self.checks if c.id == check_id)

    def to_dict(self) -> dict[str, Any]:
        d = jsonable({
            "schema_version": self.schema_version,
            "inputs": dict(self.inputs),
            "claim": self.claim.to_dict(),
            "metric": self.metric.to_dict(),
            "credibility": self.credibility.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "audit": dict(self.settings),
            "privacy": self.privacy.to_dict(redacted=not self.keep_pii),
        })
        return d if self.keep_pii else self.privacy.redactor.json(d)


def _input_block(table: LoadedTable | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {"rows": table.rows_read, "sha256": table.sha256, "name": table.name,
            "format": table.export_format, "rows_used": table.rows_used}


def _split_mapping(mapping: Mapping[str, Any] | None) -> tuple[dict, dict]:
    if not mapping:
        return {}, {}
    if "responses" in mapping or "population" in mapping:
        return dict(mapping.get("responses") or {}), dict(mapping.get("population") or {})
    return dict(mapping), {}


def _releaser(data: AuditData) -> Callable[[CheckResult], CheckResult]:
    """What passes a check's result on once the memory its working frames held is back with
    the system: otherwise each check starts where the last one peaked (measured at 1.06M
    responses: the checks' resting memory 0.78 GB with the release, 1.19 GB without). From
    LARGE_AUDIT_RESPONSES on, a garbage collection first frees what reference cycles hold."""
    collect = len(data.responses) >= LARGE_AUDIT_RESPONSES

    def released(result: CheckResult) -> CheckResult:
        return_freed_memory(collect=collect)
        return result

    return released


def survey_process_checks(data: AuditData, rng: np.random.Generator, *,
                          n_simulations: int = 10_000) -> list[CheckResult]:
    """Checks of the survey process and the claim: data quality, precision, response rates,
    selection and non-response bias, significance."""
    released = _releaser(data)
    return [released(data_quality(data)), released(sample_size(data)), released(response_rate(data)),
            released(response_rate_skew(data, rng, n_simulations=n_simulations)),
            released(invitation_selectivity(data)), released(representativeness(data)),
            released(nonresponse_adjustment(data)), released(claim_significance(data))]


def integrity_checks(data: AuditData, rng: np.random.Generator) -> list[CheckResult]:
    """Checks of the award/ranking and of the individual responses."""
    released = _releaser(data)
    results = [released(rank_uncertainty(data, rng)), released(funnel_outliers(data)),
               released(duplicate_responses(data, rng)), released(near_duplicates(data, rng)),
               released(timing_anomalies(data, rng)), released(straightlining(data, rng)),
               released(speeding(data, rng))]
    return results + [released(score_inflation(data, {r.id: r for r in results}))]


def run_checks(data: AuditData, rng: np.random.Generator, *, n_simulations: int) -> tuple[CheckResult, ...]:
    """Every SPEC check, in SPEC order."""
    results = survey_process_checks(data, rng, n_simulations=n_simulations) + integrity_checks(data, rng)
    by_id = {r.id: r for r in results}
    return tuple(by_id[i] for i in CHECK_ORDER)


def run_audit(responses: Any, population: Any = None, claim: Any = None, mapping: Mapping[str, Any] | None = None,
              *, seed: int = DEFAULT_SEED, n_simulations: int = 10_000,
              responses_name: str | None = None, population_name: str | None = None,
              engine: str | Engine = "duckdb", keep_pii: bool = False,
              limits: Limits = Limits()) -> AuditReport:
    """Audit a survey export.

    `responses`/`population`: a path, bytes, an uploaded file object or a DataFrame.
    `claim`: a path to claim.json, its bytes, a mapping, a `Claim` or None (level claim
    on the whole file). `mapping`: {"responses": {field: header}, "population": {...}} or a
    flat {field: header} for the responses. `engine`: where the interactions table is
    aggregated, "duckdb" (embedded, default), "spark" (a local or the active Spark session)
    or an `audit.engine.Engine`. `keep_pii`: leave e-mail addresses, phone numbers and
    person names in `to_dict()` and the exports (by default they are hashed or redacted,
    see `audit.pii`). `limits`: the largest file the loader may hold in memory
    (`audit.limits`; an interactions file DuckDB streams is not held). Raises `InputError`
    on unusable input, a file over `limits` included.
    """
    claim_obj = claim if isinstance(claim, Claim) else load_claim(
        claim, name=None if claim is None or isinstance(claim, (str, Path)) else "claim")
    resp_map, pop_map = _split_mapping(mapping)
    resp_table = load_responses(responses, mapping=resp_map or None,
                                scale=tuple(int(v) for v in claim_obj.scale) if claim_obj.scale else None,
                                name=responses_name, limits=limits)
    return_freed_memory()
    sql = make_engine(engine) if isinstance(engine, str) else engine
    try:
        pop_table = None
        if population is not None:
            pop_table = (open_population_file(population, sql, mapping=pop_map or None, name=population_name,
                                              unread=unread_population_columns(resp_table.frame, claim_obj))
                         or load_population(population, mapping=pop_map or None, name=population_name,
                                            limits=limits))
        data = prepare(resp_table, pop_table, claim_obj, engine=sql)
    finally:
        if isinstance(engine, str):
            sql.close()
    return_freed_memory()
    pop_table = pop_table.table if isinstance(pop_table, RegisteredPopulation) else pop_table
    scores = claim_responses(data)["score"]
    metric = headline_metric(scores, data.claim.metric, data.scale,
                             population_size=claim_population_size(data, len(scores)))
    rng = np.random.default_rng(seed)
    checks = run_checks(data, rng, n_simulations=n_simulations)
    adjustment = next(c for c in checks if c.id == "nonresponse_adjustment")
    if adjustment.status != "not_applicable":
        metric = MetricResult(**{**metric.__dict__, "adjusted_estimate": adjustment.details["adjusted"]})
    credibility = assess(checks, data.claim, metric)
    settings = {"engine_version": ENGINE_VERSION, "seed": seed, "n_simulations": n_simulations,
                "scale": list(data.scale), "unit_column": data.unit_column,
                "segments": list(data.categorical), "numeric_covariates": list(data.numeric),
                "engine": data.population.engine if data.population is not None else None}
    privacy = scan_audit_data(data)
    # the scan's sorted copies of the text columns, freed, would stay under the rendering
    return_freed_memory()
    return AuditReport(inputs={"responses": _input_block(resp_table), "population": _input_block(pop_table)},
                       claim=data.claim, metric=metric, credibility=credibility, checks=checks,
                       settings=settings, data=data, privacy=privacy, keep_pii=keep_pii)
