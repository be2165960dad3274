"""Link the responses to the interactions they were drawn from, and decide what each column is.

`prepare` is the single place where the loaded tables become the analysis data set of an
audit: the population's `invited`/`responded` flags are completed, the claim's unit and
period columns are resolved, covariates are classified (categorical segments vs numeric),
and the linkage problems (orphan responses, contradictory flags) are counted for
`data_quality`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.claim import Claim
from audit.errors import InputError
from audit.loading import LoadedTable

ID_COLUMNS = ("response_id", "interaction_id", "customer_id")
TIME_COLUMNS = ("submitted_at", "interaction_at")
FLAG_COLUMNS = ("invited", "responded")
MAX_SEGMENT_LEVELS = 60       # more levels than this is an identifier or free text, not a segment


@dataclass(frozen=True)
class Linkage:
    """How the responses join the population (all counts are rows)."""

    orphan_responses: int = 0                 # response's interaction_id absent from the population
    orphan_rows: tuple[int, ...] = ()         # their source rows (first 20)
    responses_without_interaction_id: int = 0
    responded_flag_mismatch: int = 0          # population says responded=0 but a response exists, or vice versa
    responded_not_invited: int = 0            # responded=1 with invited=0


@dataclass(frozen=True)
class AuditData:
    """The analysis data set of one audit."""

    responses: pd.DataFrame
    population: pd.DataFrame | None
    claim: Claim
    scale: tuple[float, float]
    unit_column: str | None
    categorical: tuple[str, ...]              # segment columns known for every interaction (population) or response
    numeric: tuple[str, ...]                  # numeric covariates known for every interaction
    responses_table: LoadedTable
    population_table: LoadedTable | None
    linkage: Linkage = field(default_factory=Linkage)

    @property
    def has_population(self) -> bool:
        return self.population is not None


def _as_flag(series: pd.Series) -> pd.Series:
    return series.fillna(0).astype("int8")


def _resolve_column(name: str | None, frames: list[pd.DataFrame], role: str, file: str) -> str | None:
    """Find a claim-named column under its canonical or original header."""
    if name is None:
        return None
    for frame in frames:
        if name in frame.columns:
            return name
    if name in ("agent", "agent_id", "unit") and any("agent_id" in f.columns for f in frames):
        return "agent_id"
    headers = sorted({c for f in frames for c in f.columns if not str(c).startswith("_")})
    raise InputError(f"the claim's {role} '{name}' is not a column of the data", file=file,
                     column=name, expected="one of: " + ", ".join(map(str, headers)))


def classify_covariates(frame: pd.DataFrame, exclude: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split covariate columns into categorical segments and numeric covariates.

    0/1 numeric columns (resolved, repeat_contact) count as categorical: their share, not
    their mean, is what a reader compares. Columns with more than MAX_SEGMENT_LEVELS text
    values (ids, free text) are not covariates.
    """
    categorical, numeric = [], []
    for col in frame.columns:
        if col in exclude or str(col).startswith("_") or str(col).startswith("q_"):
            continue
        series = frame[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            continue
        values = series.dropna()
        if values.empty:
            continue
        levels = values.nunique()
        if pd.api.types.is_bool_dtype(series) or (pd.api.types.is_numeric_dtype(series) and levels <= 2):
            if levels == 2:
                categorical.append(col)
        elif pd.api.types.is_numeric_dtype(series):
            if levels > 2 and values.std() > 0:
                numeric.append(col)
        elif 2 <= levels <= MAX_SEGMENT_LEVELS:
            categorical.append(col)
    return tuple(categorical), tuple(numeric)


def integral_as_int(series: pd.Series) -> pd.Series:
    """0.0/1.0 codes read as floats become 0/1, so that segments print as '1', not '1.0'."""
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if (values == values.round()).all():
            return series.astype("Int64")
    return series


def prepare(responses: LoadedTable, population: LoadedTable | None, claim: Claim) -> AuditData:
    """Build the analysis data set; raise `InputError` if the claim does not fit the data."""
    if responses.scale is None:
        raise InputError("no rating scale could be determined", file=responses.name, column="score")
    claim = claim.with_defaults(claim.scale or responses.scale)
    scale = tuple(claim.scale)  # type: ignore[arg-type]
    if claim.metric == "nps" and scale != (0, 10):
        raise InputError(f"NPS needs scores on the 0-10 scale, the data are on {scale[0]:g}-{scale[1]:g}",
                         file=responses.name, column="score", expected="a 0-10 scale or metric 'top2box'/'mean'")
    resp = responses.frame.copy()
    pop = population.frame.copy() if population is not None else None
    linkage = Linkage()
    if pop is not None:
        if "interaction_id" not in resp.columns:
            raise InputError("the responses have no interaction id, so they cannot be linked to the interactions table",
                             file=responses.name, expected="an interaction/ticket/call id column (or a mapping for it)")
        # isin with arrays, not sets: Arrow-backed strings hash them in C
        linked_ids = resp["interaction_id"].dropna().unique()
        in_pop = resp["interaction_id"].isin(pop["interaction_id"].dropna().unique())
        orphans = resp["interaction_id"].notna() & ~in_pop
        has_response = pop["interaction_id"].isin(linked_ids).astype("int8")
        if "invited" not in pop.columns:
            pop["invited"] = np.int8(1)
        pop["invited"] = _as_flag(pop["invited"])
        mismatch = 0
        if "responded" in pop.columns:
            pop["responded"] = _as_flag(pop["responded"])
            mismatch = int((pop["responded"] != has_response).sum())
        else:
            pop["responded"] = has_response
        linkage = Linkage(
            orphan_responses=int(orphans.sum()),
            orphan_rows=tuple(int(r) for r in resp.loc[orphans, "_source_row"].head(20)),
            responses_without_interaction_id=int(resp["interaction_id"].isna().sum()),
            responded_flag_mismatch=mismatch,
            responded_not_invited=int(((pop["responded"] == 1) & (pop["invited"] == 0)).sum()),
        )
    frames = [f for f in (resp, pop) if f is not None]
    unit_column = _resolve_column(claim.unit_column, frames, "unit column", responses.name)
    if (unit_column is not None and unit_column not in resp.columns and pop is not None
            and unit_column in pop.columns):
        # the unit is known for the interaction: carry it over through the link
        resp[unit_column] = resp["interaction_id"].map(pop.set_index("interaction_id")[unit_column])
    if unit_column is None and "agent_id" in resp.columns:
        unit_column = "agent_id"
    period_column = _resolve_column(claim.period_column, frames, "period column", responses.name)
    if claim.type == "change":
        if period_column not in resp.columns:
            raise InputError(f"the period column '{period_column}' is not in the responses",
                             file=responses.name, column=period_column)
        present = set(resp[period_column].dropna().astype(str))
        for label in (claim.before, claim.after):
            if label not in present:
                raise InputError(f"period '{label}' has no responses", file=responses.name,
                                 column=period_column, expected="one of: " + ", ".join(sorted(present)[:20]))
    if claim.type == "best_unit":
        if unit_column is None or unit_column not in resp.columns:
            raise InputError("a best_unit claim needs a unit column in the responses", file=responses.name,
                             column=claim.unit_column or "agent_id")
        if claim.unit not in set(resp[unit_column].dropna().astype(str)):
            raise InputError(f"unit '{claim.unit}' has no responses", file=responses.name, column=unit_column)
    claim = Claim(**{**claim.__dict__, "unit_column": unit_column if claim.type == "best_unit" else claim.unit_column,
                     "period_column": period_column})
    exclude = set(ID_COLUMNS) | set(TIME_COLUMNS) | set(FLAG_COLUMNS) | {"score", "duration_s"}
    if period_column:
        exclude.add(period_column)
    base = pop if pop is not None else resp
    categorical, numeric = classify_covariates(base, exclude)
    for frame in frames:
        for col in categorical:
            if col in frame.columns:
                frame[col] = integral_as_int(frame[col])
    return AuditData(responses=resp, population=pop, claim=claim, scale=scale, unit_column=unit_column,
                     categorical=categorical, numeric=numeric, responses_table=responses,
                     population_table=population, linkage=linkage)


def claim_responses(data: AuditData) -> pd.DataFrame:
    """The responses the claimed number is computed on (the unit's, the after-period's, or all)."""
    resp, claim = data.responses, data.claim
    if claim.type == "best_unit":
        return resp[resp[data.unit_column].astype(str) == claim.unit]
    if claim.type == "change":
        return resp[resp[claim.period_column].astype(str) == claim.after]
    return resp


def claim_population(data: AuditData) -> pd.DataFrame | None:
    """The interactions the claimed number speaks for (same restriction as `claim_responses`)."""
    pop, claim = data.population, data.claim
    if pop is None:
        return None
    if claim.type == "best_unit":
        if data.unit_column not in pop.columns:
            return None
        return pop[pop[data.unit_column].astype(str) == claim.unit]
    if claim.type == "change":
        if claim.period_column not in pop.columns:
            return None
        return pop[pop[claim.period_column].astype(str) == claim.after]
    return pop
