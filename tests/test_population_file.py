"""A large interactions file read by DuckDB itself gives the loader's results, or goes back to the loader.

Reference: the same audit with the file read by `audit.loading.load_population`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.claim import load_claim
from audit.data import prepare, unread_population_columns
from audit.engine import DuckDBEngine
from audit.loading import load_population, load_responses
from audit.pipeline import run_checks
from audit.population_file import open_population_file

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "contact_center"


@pytest.fixture()
def engine():
    e = DuckDBEngine()
    yield e
    e.close()


def _rounded(value):
    """Floats to 9 significant digits: the engine may sum in another order than pandas (last-bit differences)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _checks(data) -> list[dict]:
    out = [c.to_dict() for c in run_checks(data, np.random.default_rng(1), n_simulations=300)]
    for c in out:
        if c["id"] == "data_quality":        # the ledger's notes say which reader was used
            c["details"]["population"].pop("notes")
        c.pop("summary")                     # its figures are rounded for reading; the details are compared
    return _rounded(out)


@pytest.mark.parametrize("file_format, claim_file", [("csv", "claim_award.json"), ("parquet", "claim.json")])
def test_engine_read_gives_the_loaders_audit(engine, tmp_path, file_format, claim_file) -> None:
    path = SAMPLE / "interactions.csv"
    if file_format == "parquet":
        path = tmp_path / "interactions.parquet"
        pd.read_csv(SAMPLE / "interactions.csv").to_parquet(path)
    responses, claim = load_responses(SAMPLE / "responses.csv"), load_claim(SAMPLE / claim_file)
    registered = open_population_file(path, engine, min_bytes=0)
    assert registered is not None
    assert registered.table.rows_read == 20_000 and len(registered.table.frame) == 0
    assert _checks(prepare(responses, registered, claim, engine=engine)) == \
        _checks(prepare(responses, load_population(path), claim))


def test_columns_no_aggregate_reads_are_left_out_of_the_copy_and_change_nothing(engine) -> None:
    # reference: the loader's audit, which reads every column; the sample's responses carry
    # their own interaction times, so the interactions' are not linked to them
    responses, claim = load_responses(SAMPLE / "responses.csv"), load_claim(SAMPLE / "claim.json")
    unread = unread_population_columns(responses.frame, claim)
    assert "interaction_at" in unread
    registered = open_population_file(SAMPLE / "interactions.csv", engine, min_bytes=0, unread=unread)
    assert "interaction_at" not in registered.alias and "interaction_at" in registered.table.frame.columns
    assert _checks(prepare(responses, registered, claim, engine=engine)) == \
        _checks(prepare(responses, load_population(SAMPLE / "interactions.csv"), claim))


def test_the_interactions_times_are_read_when_the_responses_or_the_claim_need_them() -> None:
    claim = load_claim(SAMPLE / "claim.json")
    timed = pd.DataFrame({"interaction_at": pd.to_datetime(["2026-01-05T10:00:00Z", None])})
    untimed = pd.DataFrame({"interaction_at": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]")})
    assert unread_population_columns(timed, claim) == ("submitted_at", "interaction_at")
    assert unread_population_columns(untimed, claim) == ("submitted_at",)
    assert unread_population_columns(timed.drop(columns="interaction_at"), claim) == ("submitted_at",)
    by_time = replace(claim, type="change", period_column="interaction_at", before="a", after="b")
    assert unread_population_columns(timed, by_time) == ("submitted_at",)


def _write(tmp_path: Path, edit) -> Path:
    frame = pd.read_csv(SAMPLE / "interactions.csv", dtype=str)
    edit(frame)
    path = tmp_path / "interactions.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("problem, edit", [
    ("repeated interaction id", lambda f: f.loc.__setitem__((19_999, "interaction_id"), f.loc[0, "interaction_id"])),
    ("missing interaction id", lambda f: f.loc.__setitem__((19_999, "interaction_id"), None)),
    ("unreadable yes/no value", lambda f: f.loc.__setitem__((19_999, "invited"), "maybe")),
    ("text in a number column past the sample", lambda f: f.loc.__setitem__((19_999, "handle_time_s"), "12 min")),
])
def test_files_the_loader_must_read_row_by_row_go_back_to_it(engine, tmp_path, problem, edit) -> None:
    assert open_population_file(_write(tmp_path, edit), engine, min_bytes=0) is None, problem


def test_small_files_are_left_to_the_loader(engine) -> None:
    assert open_population_file(SAMPLE / "interactions.csv", engine) is None


def test_frames_and_uploads_are_left_to_the_loader(engine) -> None:
    data = (SAMPLE / "interactions.csv").read_bytes()
    assert open_population_file(data, engine, min_bytes=0) is None


def _copied_200k_rows(engine, tmp_path):
    """The sample's interactions ten times over (200k rows, several row groups, unique ids),
    written as CSV and copied by the engine: (the rows as written, the registered copy)."""
    frame = pd.read_csv(SAMPLE / "interactions.csv", dtype=str)
    frame = pd.concat([frame] * 10, ignore_index=True)
    frame["interaction_id"] = [f"I{i:07d}" for i in range(len(frame))]
    path = tmp_path / "interactions.csv"
    frame.to_csv(path, index=False)
    return frame, open_population_file(path, engine, min_bytes=0)


def test_the_engine_copy_keeps_the_files_row_order(engine, tmp_path) -> None:
    # 200k rows: DuckDB planned the yes/no columns' IN lists as joins, which handed the copy
    # a batch out of file order (even on one thread), and double sums read from the copy
    # changed in their last bits from run to run
    frame, registered = _copied_200k_rows(engine, tmp_path)
    assert registered is not None
    ids = engine.query(f"SELECT {registered.alias['interaction_id']} AS i FROM population")["i"]
    assert ids.tolist() == frame["interaction_id"].tolist()


def test_response_flags_sit_beside_the_rows_they_flag(engine, tmp_path) -> None:
    # reference: pandas' isin on the file's own ids, row by row; 200k rows span several row groups
    frame, registered = _copied_200k_rows(engine, tmp_path)
    ids = frame["interaction_id"].sample(frac=0.1, random_state=3)
    engine.register("response_ids", pd.DataFrame({"iid": pd.concat([ids, pd.Series(["not-an-id"])])}))
    assert engine.positional_flags("population", registered.alias["interaction_id"], "response_ids", "flags")
    flags = engine.query("SELECT flag FROM flags")["flag"]
    assert flags.tolist() == frame["interaction_id"].isin(ids).astype(int).tolist()


def test_tables_that_are_not_engine_copies_have_no_positional_flags(engine) -> None:
    engine.register("population", pd.DataFrame({"c0": ["a", "b"]}))
    engine.register("response_ids", pd.DataFrame({"iid": ["a"]}))
    assert not engine.positional_flags("population", "c0", "response_ids", "flags")
