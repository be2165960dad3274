"""Link the responses to the interactions they were drawn from, and decide what each column is.

`prepare` is the single place where the loaded tables become the analysis data set of an
audit: the population's `invited`/`responded` flags are completed, the claim's unit and
period columns are resolved, covariates are classified (categorical segments vs numeric),
and the linkage problems (orphan responses, contradictory flags) are counted for
`data_quality`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from audit.aggregates import (OFFER_MODEL_MAX_LEVELS, ColumnProfile, PopulationQueries, PopulationSummary,
                              column_kind, integral_as_int, offer_model_categories, register_frame,
                              usable_covariates)
from audit.claim import Claim
from audit.engine import Engine, make_engine
from audit.errors import InputError
from audit.loading import MAX_LABEL_LEVELS, LoadedTable
from audit.population_file import RegisteredPopulation

ID_COLUMNS = ("response_id", "interaction_id", "customer_id")
TIME_COLUMNS = ("submitted_at", "interaction_at")
FLAG_COLUMNS = ("invited", "responded")
MAX_SEGMENT_LEVELS = MAX_LABEL_LEVELS    # more levels than this is an identifier or free text, not a segment


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
    population: PopulationSummary | None       # the interactions table's sufficient statistics
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


def _resolve_column(name: str | None, tables: list[list[str]], role: str, file: str) -> str | None:
    """Find a claim-named column under its canonical or original header (`tables`: the column names)."""
    if name is None:
        return None
    for columns in tables:
        if name in columns:
            return name
    if name in ("agent", "agent_id", "unit") and any("agent_id" in columns for columns in tables):
        return "agent_id"
    headers = sorted({c for columns in tables for c in columns if not str(c).startswith("_")})
    raise InputError(f"the claim's {role} '{name}' is not a column of the data", file=file,
                     column=name, expected="one of: " + ", ".join(map(str, headers)))


def classify_covariates(frame: pd.DataFrame, exclude: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split covariate columns into categorical segments and numeric covariates.

    0/1 numeric columns (resolved, repeat_contact) count as categorical: their share, not
    their mean, is what a reader compares. Columns with more than MAX_SEGMENT_LEVELS text
    values (ids, free text) are not covariates.
    """
    profile = {}
    for col in frame.columns:
        if col in exclude or str(col).startswith(("_", "q_")):
            continue
        values = frame[col].dropna()
        kind = column_kind(frame[col])
        variance = float(values.var()) if kind == "number" and len(values) > 1 else None
        profile[col] = ColumnProfile(int(values.nunique()), len(values), kind, None, variance)
    return classify_profile(profile, exclude)


def classify_profile(profile: Mapping[str, ColumnProfile], exclude: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split covariate columns into categorical segments and numeric covariates, from each column's
    profile (distinct values, variance): the rule `classify_covariates` documents."""
    categorical, numeric = [], []
    for col, p in profile.items():
        if col in exclude or str(col).startswith("_") or str(col).startswith("q_") or p.kind == "time":
            continue
        if p.non_missing == 0:
            continue
        if p.kind == "flag" or (p.kind == "number" and p.levels <= 2):
            if p.levels == 2:
                categorical.append(col)
        elif p.kind == "number":
            if p.levels > 2 and (p.variance or 0.0) > 0:
                numeric.append(col)
        elif 2 <= p.levels <= MAX_SEGMENT_LEVELS:
            categorical.append(col)
    return tuple(categorical), tuple(numeric)


def _scope(claim: Claim, unit_column: str | None, period_column: str | None) -> tuple[str | None, str | None]:
    """The population column and value that restrict the claim (the unit's or the after-period's interactions)."""
    if claim.type == "best_unit":
        return unit_column, claim.unit
    if claim.type == "change":
        return period_column, claim.after
    return None, None


def summarise_population(population: LoadedTable | RegisteredPopulation, resp: pd.DataFrame, claim: Claim,
                         unit_column: str | None, period_column: str | None, exclude: set[str],
                         engine: Engine | None = None) -> tuple[PopulationSummary, tuple[str, ...], tuple[str, ...]]:
    """Aggregate the interactions table in `engine` (DuckDB by default) into the sufficient
    statistics of `PopulationSummary`; also return its categorical and numeric covariates.
    A `RegisteredPopulation` is already in `engine`; a `LoadedTable`'s rows are registered."""
    own = engine is None
    engine = make_engine("duckdb") if own else engine
    try:
        if isinstance(population, RegisteredPopulation):
            alias, kinds = population.alias, population.kinds
        else:
            alias, kinds = register_frame(engine, population.frame)
        columns = list(alias)
        wanted, scope_value = _scope(claim, unit_column, period_column)
        scope_column = wanted if wanted in columns else None
        q = PopulationQueries.link(engine, alias, kinds, resp["interaction_id"],
                                   resp["customer_id"] if "customer_id" in resp.columns else None,
                                   scope_column, scope_value)
        candidates = [c for c in q.kinds if c not in exclude and not str(c).startswith("q_")]
        profile, counts = q.profile(candidates)
        categorical, numeric = classify_profile(profile, exclude)
        shift = {c: float(profile[c].mean or 0.0) for c in numeric}
        cells = q.cells(categorical, numeric, shift, scope=False)
        # no restriction: the claim speaks for every interaction; a restriction the table
        # cannot apply (no unit/period column): the claim's interactions are unknown
        if wanted is None:
            scope = cells
        else:
            scope = q.cells(categorical, numeric, shift, scope=True) if scope_column is not None else None
        has_invited = "invited" in columns
        unit = unit_column if unit_column in columns else None
        units = offer = customer_unit = None
        offer_nums: tuple[str, ...] = ()
        left_out: list[str] = []
        if unit is not None and has_invited:
            units = q.units(unit)
            cats, nums = usable_covariates(cells, categorical, numeric)
            levels = {c: int(cells.keys[c].nunique()) for c in cats if c != unit}
            cats, left_out = offer_model_categories({c: k for c, k in levels.items() if k <= OFFER_MODEL_MAX_LEVELS},
                                                    len(units))
            nums = [c for c in nums if c != unit]
            if cats or nums:
                offer, offer_nums = q.offer_cells(unit, cats, nums, shift), tuple(nums)
        if unit is not None and "customer_id" in columns and "customer_id" in resp.columns:
            customer_unit = q.customer_unit(unit)
        # the interactions' times are read only where the responses carry none (timing_anomalies)
        times = tuple(c for c in ("interaction_at",) if c not in unread_population_columns(resp, claim))
        summary = PopulationSummary(
            rows=counts["n_rows"], has_invited=has_invited, profile=profile, cells=cells, scope=scope,
            linked=q.linked(("customer_id", *times, unit, *categorical, *numeric),
                            categories=[c for c in categorical if c != unit]),
            units=units, offer_cells=offer, offer_numeric=offer_nums,
            offer_left_out=tuple(left_out),
            customer_unit=customer_unit, linkage=counts, engine=engine.name)
    finally:
        if own:
            engine.close()
    return summary, categorical, numeric


def has_interaction_times(responses: pd.DataFrame) -> bool:
    """Do the responses say when their interactions happened? Otherwise the interactions
    table's times are linked to them."""
    return "interaction_at" in responses.columns and bool(responses["interaction_at"].notna().any())


def unread_population_columns(responses: pd.DataFrame, claim: Claim) -> tuple[str, ...]:
    """Columns of the interactions table that no aggregate reads for these responses and this
    claim: the times (never covariates), unless the claim names one as its unit or period, and
    except the interactions' own where the responses carry none (they are then linked to the
    responses, `summarise_population`)."""
    read = {claim.unit_column, claim.period_column} | (set() if has_interaction_times(responses)
                                                        else {"interaction_at"})
    return tuple(c for c in TIME_COLUMNS if c not in read)


def interaction_positions(ids: pd.Series, population_ids: pd.Series) -> np.ndarray:
    """Position of each response's interaction id among `population_ids` (unique), −1 where it
    is not there; a missing id finds a missing one, as `Series.isin` and `merge` match them.

    By Arrow's hash lookup when both are text: pandas turns each of a million values into a
    Python string first (`isin` 9 s against 0.5 s)."""
    arrow_text = [pd.api.types.is_string_dtype(s) and getattr(s.dtype, "storage", None) == "pyarrow"
                  for s in (ids, population_ids)]
    if not all(arrow_text):
        return pd.Index(population_ids.to_numpy()).get_indexer(ids.to_numpy())
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(pa.array(ids), value_set=pa.array(population_ids))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def prepare(responses: LoadedTable, population: LoadedTable | RegisteredPopulation | None, claim: Claim, *,
            engine: Engine | None = None) -> AuditData:
    """Build the analysis data set; raise `InputError` if the claim does not fit the data.

    The interactions table is aggregated in `engine` (embedded DuckDB unless another is
    given) and only its sufficient statistics are kept (`PopulationSummary`)."""
    if responses.scale is None:
        raise InputError("no rating scale could be determined", file=responses.name, column="score")
    claim = claim.with_defaults(claim.scale or responses.scale)
    scale = tuple(claim.scale)  # type: ignore[arg-type]
    if claim.metric == "nps" and scale != (0, 10):
        raise InputError(f"NPS needs scores on the 0-10 scale, the data are on {scale[0]:g}-{scale[1]:g}",
                         file=responses.name, column="score", expected="a 0-10 scale or metric 'top2box'/'mean'")
    # copy-on-write (pandas 3): the columns added or converted below never reach the loaded frame
    resp = responses.frame.copy(deep=False)
    pop_table = population.table if isinstance(population, RegisteredPopulation) else population
    pop_columns = list(pop_table.frame.columns) if pop_table is not None else []
    if population is not None and "interaction_id" not in resp.columns:
        raise InputError("the responses have no interaction id, so they cannot be linked to the interactions table",
                         file=responses.name, expected="an interaction/ticket/call id column (or a mapping for it)")
    frames_columns = [list(resp.columns), pop_columns]
    unit_column = _resolve_column(claim.unit_column, frames_columns, "unit column", responses.name)
    if unit_column is None and "agent_id" in resp.columns:
        unit_column = "agent_id"
    period_column = _resolve_column(claim.period_column, frames_columns, "period column", responses.name)
    exclude = set(ID_COLUMNS) | set(TIME_COLUMNS) | set(FLAG_COLUMNS) | {"score", "duration_s"}
    if period_column:
        exclude.add(period_column)
    summary = None
    linkage = Linkage()
    if population is not None:
        summary, categorical, numeric = summarise_population(population, resp, claim, unit_column, period_column,
                                                             exclude, engine)
        linked = summary.linked
        in_pop = interaction_positions(resp["interaction_id"], linked["interaction_id"]) >= 0
        orphans = resp["interaction_id"].notna() & ~in_pop
        if unit_column is not None and unit_column not in resp.columns and unit_column in pop_columns:
            # the unit is known for the interaction: carry it over through the link
            resp[unit_column] = resp["interaction_id"].map(linked.set_index("interaction_id")[unit_column])
        counts = summary.linkage
        linkage = Linkage(
            orphan_responses=int(orphans.sum()),
            orphan_rows=tuple(int(r) for r in resp.loc[orphans, "_source_row"].head(20)),
            responses_without_interaction_id=int(resp["interaction_id"].isna().sum()),
            responded_flag_mismatch=counts["n_mismatch"] if "responded" in pop_columns else 0,
            responded_not_invited=counts["n_resp_not_inv"],
        )
    else:
        categorical, numeric = classify_covariates(resp, exclude)
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
    for col in categorical:
        if col in resp.columns:
            resp[col] = integral_as_int(resp[col])
    return AuditData(responses=resp, population=summary, claim=claim, scale=scale, unit_column=unit_column,
                     categorical=categorical, numeric=numeric, responses_table=responses,
                     population_table=pop_table, linkage=linkage)


def claim_responses(data: AuditData) -> pd.DataFrame:
    """The responses the claimed number is computed on (the unit's, the after-period's, or all)."""
    resp, claim = data.responses, data.claim
    if claim.type == "best_unit":
        return resp[resp[data.unit_column].astype(str) == claim.unit]
    if claim.type == "change":
        return resp[resp[claim.period_column].astype(str) == claim.after]
    return resp


def claim_population_size(data: AuditData, n: int) -> int | None:
    """N of the finite-population correction: the interactions the claim speaks for, when known
    and at least the n responses (else the responses are not a sample of them)."""
    scope = data.population.scope if data.population is not None else None
    return scope.total if scope is not None and scope.total >= n else None
