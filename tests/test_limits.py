"""Limits and resources: how much the auditor takes in, and where it writes.

Specification (issue "Hardening", part 4): the largest input file (bytes, counted
uncompressed for XLSX and Parquet) and the most rows in one file are configurable, with
documented defaults (`audit.limits`); a file over either is refused with an error naming
the file, the limit and how to raise it: exit 2 in the CLI, an inline error in the app,
never a traceback; a file far over the limit is refused before it is read; the
interactions' aggregates stay bounded however large the table (the selective-offer cells
leave out segments past their bound). Nothing
uploaded reaches the disk outside a per-session temporary folder that is removed: DuckDB
spills and copies only inside its own folder (never `.tmp` in the working directory), the
app's audits write only inside their session's folder, a session's folder goes with the
session, and an upload over 1 MB is parsed in memory, not spooled to a shared temporary file.
"""
from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from audit import InputError, aggregates, loading, run_audit
from audit.cli import main
from audit.engine import DuckDBEngine
from audit.limits import DEFAULT_MAX_BYTES, MB, NO_LIMITS, Limits, human_bytes, parse_bytes
from audit.loading import load_population, load_responses
from audit.simulation import simulate_contact_center
from ui import workspace
from ui.components import md_escape

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
RESPONSES = SAMPLE / "responses.csv"          # 3,078 data rows, 360,035 bytes
RESPONSE_ROWS = 3078
TIMEOUT = 180
WORKBOOK_ROWS = 200


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (a hole): far over any limit, cheap to make."""
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def small_responses(rows: int = 200) -> bytes:
    return pd.read_csv(RESPONSES, dtype=str, keep_default_na=False).head(rows).to_csv(index=False).encode()


def workbook(uncompressed_bytes: int) -> bytes:
    """A valid XLSX of a few responses whose comment column makes it `uncompressed_bytes` or more
    once unzipped, while the file itself stays small (repetitive text compresses ~100:1)."""
    frame = pd.read_csv(RESPONSES, dtype=str, keep_default_na=False).head(WORKBOOK_ROWS)
    frame["comment"] = "very helpful agent, thank you " * (uncompressed_bytes // (WORKBOOK_ROWS * 30) + 1)
    out = io.BytesIO()
    frame.to_excel(out, index=False)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# the engine
# ---------------------------------------------------------------------------------------
def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    huge = sparse_file(tmp_path / "export.csv", 3 * 2**30)
    monkeypatch.setattr(loading, "_read", lambda *a: pytest.fail("the file was read"))
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        load_responses(huge)                       # the default limits
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert message.startswith("export.csv: the file is 3 GB")
    assert f"over the limit of {human_bytes(DEFAULT_MAX_BYTES)}" in message
    assert "raise it with Limits(max_bytes=...)" in message


def test_a_file_over_the_row_limit_is_refused_naming_its_rows_and_the_setting():
    limits = Limits(max_rows=1000, raise_rows="--max-rows")
    with pytest.raises(InputError) as caught:
        load_responses(RESPONSES.read_bytes(), name="responses.csv", limits=limits)
    assert str(caught.value).startswith(
        "responses.csv: 3,078 data rows, over the limit of 1,000 rows for one input file; raise it with --max-rows")


def test_a_file_exactly_at_both_limits_is_read():
    limits = Limits(max_bytes=RESPONSES.stat().st_size, max_rows=RESPONSE_ROWS)
    assert load_responses(RESPONSES, limits=limits).rows_read == RESPONSE_ROWS
    with pytest.raises(InputError):
        load_responses(RESPONSES, limits=Limits(max_bytes=RESPONSES.stat().st_size - 1))


def test_a_data_frame_has_no_file_size_and_is_held_to_the_row_limit_only():
    frame = pd.read_csv(RESPONSES)        # DataFrame.size counts cells, not bytes
    assert load_responses(frame, limits=Limits(max_bytes=10)).rows_read == RESPONSE_ROWS
    with pytest.raises(InputError, match="^data frame: 3,078 data rows, over the limit of 10 rows"):
        load_responses(frame, limits=Limits(max_rows=10))


def test_the_interactions_file_is_held_to_the_limits_too():
    with pytest.raises(InputError) as caught:
        run_audit(RESPONSES, SAMPLE / "interactions.csv", limits=Limits(max_rows=5000))
    assert str(caught.value).startswith("interactions.csv: 20,000 data rows, over the limit of 5,000")


def test_a_workbook_is_measured_uncompressed():
    data = workbook(2 * MB)
    assert len(data) < 200 * 2**10          # small on disk: only the unzipped size is over the limit
    with pytest.raises(InputError) as caught:
        load_responses(data, name="export.xlsx", limits=Limits(max_bytes=MB))
    assert str(caught.value).startswith("export.xlsx: the workbook holds 2.")
    assert "MB once uncompressed, over the limit of 1 MB" in str(caught.value)
    assert load_responses(data, name="export.xlsx", limits=NO_LIMITS).rows_read == WORKBOOK_ROWS


def test_a_parquet_files_rows_are_counted_from_its_footer_before_it_is_read(monkeypatch):
    out = io.BytesIO()
    pd.read_csv(RESPONSES, dtype=str).to_parquet(out)
    monkeypatch.setattr(loading, "_read", lambda *a: pytest.fail("the file was read"))
    with pytest.raises(InputError, match=r"^export.parquet: 3,078 data rows, over the limit of 100 rows"):
        load_population(out.getvalue(), name="export.parquet", limits=Limits(max_rows=100))


@pytest.mark.parametrize("text, expected", [
    ("256MB", 256 * 2**20), ("2GB", 2 * 2**30), ("1.5g", int(1.5 * 2**30)), ("512 kb", 512 * 2**10),
    ("1048576", 2**20), ("0", None), ("none", None)])
def test_sizes_are_read_in_binary_units_as_streamlit_reads_max_upload_size(text, expected):
    assert parse_bytes(text) == expected


def test_a_size_without_a_known_unit_is_an_error():
    with pytest.raises(ValueError, match="'12x' is not a size"):
        parse_bytes("12x")


# ---------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------
def test_the_cli_refuses_a_3_GB_file_with_exit_2_and_names_the_option(tmp_path, capsys):
    huge = sparse_file(tmp_path / "export.csv", 3 * 2**30)
    code = main(["run", str(huge), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: export.csv: the file is 3 GB, over the limit of 256 MB")
    assert "raise it with --max-bytes" in err
    assert not (tmp_path / "out").exists()


def test_the_cli_row_limit_is_an_option(tmp_path, capsys):
    args = ["run", str(RESPONSES), "--out", str(tmp_path / "out"), "--format", "json"]
    assert main(args + ["--max-rows", "1000"]) == 2
    err = capsys.readouterr().err
    assert "responses.csv: 3,078 data rows, over the limit of 1,000 rows" in err and "--max-rows" in err
    assert main(args + ["--max-rows", str(RESPONSE_ROWS), "--max-bytes", "1MB"]) == 0


def test_the_cli_rejects_a_malformed_limit_with_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["run", str(RESPONSES), "--max-bytes", "lots"])
    assert caught.value.code == 2
    assert "--max-bytes: 'lots' is not a size" in capsys.readouterr().err


def test_the_selective_offer_cells_stay_bounded_by_leaving_out_the_covariates_with_most_levels(monkeypatch):
    """One cell per unit × invited × level combination approaches one per interaction on a large
    table (831,758 cells for 1M interactions in benchmarks/large_audit.py): past the bound the
    covariates with most levels are left out, and the check says which."""
    sim = simulate_contact_center(np.random.default_rng(11), n_interactions=4000, n_agents=12,
                                  flaws=("selective_invitation",))
    unbounded = run_audit(sim.responses, sim.population, n_simulations=200).data.population
    assert unbounded.offer_left_out == () and len(unbounded.offer_cells) > 60
    monkeypatch.setattr(aggregates, "OFFER_MODEL_MAX_CELLS", 60)
    report = run_audit(sim.responses, sim.population, n_simulations=200)
    pop = report.data.population
    # 12 agents × 2 (invited) × 2 levels of `resolved` = 48 ≤ 60; a second covariate would make ≥ 96
    assert len(pop.offer_cells) == 48
    assert set(pop.offer_left_out) == {"region", "channel", "repeat_contact"}
    details = report.check("score_inflation").details
    assert details["selective_offers_covariates_left_out"] == list(pop.offer_left_out)


# ---------------------------------------------------------------------------------------
# temporary files of the engine
# ---------------------------------------------------------------------------------------
def test_duckdb_spills_inside_its_own_folder_and_close_removes_it(tmp_path, monkeypatch):
    """A GROUP BY too large for the memory limit spills to disk; DuckDB's own default for that
    is `.tmp` in the working directory, shared by every audit run from there."""
    parent, cwd = tmp_path / "parent", tmp_path / "cwd"
    parent.mkdir(), cwd.mkdir()
    monkeypatch.chdir(cwd)
    engine = DuckDBEngine(memory_limit="16MB", temp_directory=str(parent))
    try:
        (own,) = parent.iterdir()
        spill = Path(engine.query("SELECT current_setting('temp_directory') AS d")["d"][0])
        assert spill.parent == own
        groups = engine.query("SELECT COUNT(*) AS n FROM (SELECT i % 500000 AS k, MAX(i::VARCHAR) AS m "
                              "FROM range(1000000) t(i) GROUP BY k)")["n"][0]
        assert groups == 500_000
        assert spill.is_dir(), "control: the query did not spill"
        engine.materialise("copy", "SELECT 1 AS x")
        assert (own / "copy.parquet").is_file()
    finally:
        engine.close()
    assert list(cwd.iterdir()) == []
    assert list(parent.iterdir()) == []


# ---------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------
def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


def upload_and_run(app: AppTest, name: str, data: bytes) -> AppTest:
    app.file_uploader(key="responses_file").set_value((name, data, "text/csv"))
    app.run()
    if any(b.key == "run_upload" for b in app.button):
        app.button(key="run_upload").click().run()
    return app


def errors(app: AppTest) -> str:
    assert not app.exception, [e.value for e in app.exception]
    return " ".join(e.value for e in app.error)


def test_an_upload_over_the_row_limit_is_an_inline_error_naming_file_limit_and_setting(monkeypatch):
    monkeypatch.setenv("AUDIT_MAX_ROWS", "1000")
    app = upload_and_run(new_app().run(), "responses.csv", RESPONSES.read_bytes())
    text = errors(app)
    assert md_escape("responses.csv") in text
    assert md_escape("3,078 data rows, over the limit of 1,000 rows") in text
    assert "AUDIT\\_MAX\\_ROWS" in text


@pytest.fixture
def upload_limit_1_mb():
    before = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)
    yield
    st_config.set_option("server.maxUploadSize", before)


def test_the_apps_byte_limit_is_the_upload_limit_applied_to_uncompressed_content(upload_limit_1_mb):
    app = upload_and_run(new_app().run(), "export.xlsx", workbook(2 * MB))
    text = errors(app)
    assert md_escape("export.xlsx: the workbook holds 2.") in text
    assert md_escape("over the limit of 1 MB") in text and md_escape("server.maxUploadSize") in text


def test_a_malformed_row_setting_is_reported_and_the_default_applies(monkeypatch):
    monkeypatch.setenv("AUDIT_MAX_ROWS", "many")
    app = new_app().run()
    text = errors(app)
    assert "Server setting ignored" in text and "AUDIT\\_MAX\\_ROWS" in text
    assert any("2,000,000 rows per file" in (u.help or "") for u in app.file_uploader)


def test_an_app_audit_writes_only_inside_its_sessions_folder_and_leaves_it_empty(monkeypatch):
    created: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        created.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(created[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    # a file no other test audits, so the audit runs rather than coming from st.cache_data
    app = upload_and_run(new_app().run(), "unique.csv", small_responses(321))
    assert errors(app) == ""
    folder = app.session_state[workspace.FOLDER_KEY].path
    assert folder.parent == workspace.server_folder()
    engine_dirs = [p for p in created if p.name.startswith("audit-duckdb-")]
    assert engine_dirs and all(p.parent == folder for p in engine_dirs)
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_each_session_has_its_own_folder_removed_when_the_session_ends():
    first = upload_and_run(new_app().run(), "first.csv", small_responses(200))
    second = upload_and_run(new_app().run(), "second.csv", small_responses(201))
    a = first.session_state[workspace.FOLDER_KEY].path
    b = second.session_state[workspace.FOLDER_KEY].path
    assert a != b and a.is_dir() and b.is_dir()
    del first
    gc.collect()
    assert not a.exists()
    assert b.is_dir()


def test_folders_of_servers_no_longer_running_are_swept_at_start(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f"{workspace.PREFIX}{dead}-abcd"
    live = tmp_path / f"{workspace.PREFIX}{os.getpid()}-efgh"
    for folder in (stale, live):
        (folder / "session-x").mkdir(parents=True)
    new = workspace.server_folder.__wrapped__()
    assert not stale.exists()
    assert live.is_dir() and new.is_dir() and new.parent == tmp_path


def test_an_upload_over_1_MB_is_parsed_in_memory_not_spooled_to_a_temporary_file(monkeypatch):
    """Starlette (Streamlit's HTTP layer) rolls a multipart upload over 1 MB into a file in
    the shared temporary folder unless told otherwise."""
    import asyncio

    from starlette.datastructures import Headers
    from starlette.formparsers import MultiPartParser

    spooled: list[object] = []
    real = tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: spooled.append(1) or real(*a, **k))
    monkeypatch.setattr(MultiPartParser, "spool_max_size", MB)     # Starlette's default (app.py raises it)
    payload = os.urandom(3 * MB)
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + payload + b"\r\n--B--\r\n")

    def parse() -> bytes:
        async def stream():
            yield body

        form = asyncio.run(MultiPartParser(Headers({"content-type": "multipart/form-data; boundary=B"}),
                                           stream(), max_part_size=4 * MB).parse())
        return form["file"].file.read()

    assert parse() == payload and spooled, "control: without the setting Starlette spools to disk"
    spooled.clear()
    workspace.keep_uploads_in_memory(256 * MB)
    assert parse() == payload
    assert spooled == []


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="resident memory is read from /proc (Linux)")
def test_freed_memory_goes_back_to_the_operating_system():
    import pyarrow as pa

    from audit.limits import return_freed_memory

    def resident_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB

    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())     # Arrow's own default, which keeps freed pages
    try:
        base = pa.array(np.arange(20_000, dtype=np.int64))
        arrays = [base.cast(pa.float64()) for _ in range(1_500)]     # 1,500 × 160 kB from Arrow's pool
        assert pa.total_allocated_bytes() >= 1_500 * 160_000
        del arrays
        gc.collect()
        before = resident_mb()
        return_freed_memory()
    finally:
        pa.set_memory_pool(pool)
    # measured: Arrow's allocator keeps ~200 MB of the freed arrays until the release
    assert before - resident_mb() > 100


def test_freed_memory_includes_frames_held_only_by_reference_cycles():
    import weakref

    from audit.limits import return_freed_memory

    class Fit:              # a fitted model that refers back to itself, as statsmodels' results do
        def __init__(self) -> None:
            self.design = np.ones((1000, 10))
            self.me = self

    collecting = gc.isenabled()
    gc.disable()            # the release must not depend on when Python's own collection comes
    try:
        fit = Fit()
        gone = weakref.ref(fit)
        del fit
        return_freed_memory(collect=True)
        assert gone() is None
    finally:
        if collecting:
            gc.enable()


def test_audits_allocate_arrow_memory_through_malloc():
    import pyarrow as pa

    from audit.limits import use_system_allocator

    pool = pa.default_memory_pool()
    try:
        use_system_allocator()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(pool)
