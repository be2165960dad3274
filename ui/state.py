"""Session state of the app: which audit this browser session is looking at.

The audit itself is cached by content (`st.cache_data` on the uploaded bytes, the claim and
the mapping), so moving between pages never re-runs it and two sessions only share a
cached report when they uploaded byte-identical files. Nothing uploaded is written to disk;
the engine's temporary files go to this session's folder (`ui.workspace`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from audit import InputError, run_audit
from audit.engine import DuckDBEngine
from audit.limits import Limits
from audit.pipeline import AuditReport
from audit.render import findings_csv, report_json
from ui.components import md_escape
from ui.workspace import app_limits, session_folder

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "contact_center"
SAMPLE_LABEL = "the bundled sample audit (sample_data/contact_center)"
KEY = "audit_inputs"
SHOWN = "audit_shown"      # (inputs, bundle) last drawn in this session
KEEP_PII = "keep_pii"      # the user asked for personal data to stay in the exports


@dataclass(frozen=True)
class AuditInputs:
    """Everything that determines an audit: file bytes and names, claim and mapping (JSON text)."""

    responses: bytes
    responses_name: str
    population: bytes | None
    population_name: str | None
    claim: str          # JSON text of the claim mapping ("null" for none)
    mapping: str        # JSON text of {"responses": {...}, "population": {...}}
    label: str          # what the user is told they are looking at


@dataclass(frozen=True)
class Bundle:
    """A finished audit and the strings every page and download needs."""

    report: AuditReport
    data: dict[str, Any]        # report.to_dict()
    json: str
    csv: str
    seconds: float
    label: str


def sample_inputs(claim_file: str = "claim.json") -> AuditInputs:
    return AuditInputs(responses=(SAMPLE / "responses.csv").read_bytes(), responses_name="responses.csv",
                       population=(SAMPLE / "interactions.csv").read_bytes(), population_name="interactions.csv",
                       claim=(SAMPLE / claim_file).read_text(encoding="utf-8"), mapping="{}", label=SAMPLE_LABEL)


def current_limits() -> Limits:
    """The limits every upload is held to (`ui.workspace.app_limits`); a malformed row setting
    is reported and the default row limit used."""
    upload_mb = st.get_option("server.maxUploadSize")
    try:
        return app_limits(upload_mb, os.environ)
    except ValueError as exc:
        st.error(f"**Server setting ignored.** {md_escape(exc)}; the default row limit applies.")
        return app_limits(upload_mb, {})


@st.cache_data(show_spinner=False, max_entries=16)
def audited(inputs: AuditInputs, limits: Limits, _workdir: str) -> Bundle:
    """Run the engine once per distinct input and limits (raises `InputError` on unusable input),
    its temporary files under `_workdir` (not part of the cache key)."""
    start = time.perf_counter()
    claim = json.loads(inputs.claim)
    engine = DuckDBEngine(temp_directory=_workdir)
    try:
        report = run_audit(inputs.responses, inputs.population, claim if claim else None,
                           mapping=json.loads(inputs.mapping) or None, engine=engine, limits=limits,
                           responses_name=inputs.responses_name, population_name=inputs.population_name)
    finally:
        engine.close()
    data = report.to_dict()
    return Bundle(report=report, data=data, json=report_json(data), csv=findings_csv(data),
                  seconds=time.perf_counter() - start, label=inputs.label)


def start_audit(inputs: AuditInputs) -> Bundle | None:
    """Run (or fetch) the audit of `inputs` with visible progress; remember it for this session.

    Returns None after showing the input error inline (never a traceback)."""
    size = len(inputs.responses) + len(inputs.population or b"")
    with st.status(f"Auditing {inputs.label} ({size / 1e6:.1f} MB)…", expanded=False) as status:
        status.write("Reading and mapping the files, then running the 16 checks…")
        try:
            bundle = audited(inputs, current_limits(), str(session_folder()))
        except InputError as exc:
            status.update(label="The audit could not run on these files", state="error", expanded=True)
            st.error(f"**Unusable input.** {md_escape(exc)}")
            return None
        status.update(label=f"Audit complete ({bundle.seconds:.1f} s)", state="complete")
    st.session_state[KEY] = inputs
    st.session_state[SHOWN] = (inputs, bundle)
    return bundle


def current_bundle() -> Bundle | None:
    """The audit this session is looking at, or None before the first one.

    The sidebar and the page both ask on every rerun; the session keeps the bundle it last
    drew, so `st.cache_data` (which unpickles a fresh copy per call) is consulted only when
    the inputs change."""
    inputs = st.session_state.get(KEY)
    if inputs is None:
        return None
    shown = st.session_state.get(SHOWN)
    if shown is not None and shown[0] is inputs:
        return shown[1]
    try:
        bundle = audited(inputs, current_limits(), str(session_folder()))
    except InputError:       # shown when it was started; forget it
        st.session_state.pop(KEY, None)
        return None
    st.session_state[SHOWN] = (inputs, bundle)
    return bundle


def keep_pii() -> bool:
    """Did this session tick "keep personal data in the exports" (Export page)? Off by default."""
    return bool(st.session_state.get(KEEP_PII, False))


def privacy_note(bundle: Bundle) -> str | None:
    """What the exports do with the personal data found in this audit (None when none was found)."""
    scan = bundle.report.privacy
    if not scan.columns:
        return None
    if keep_pii():
        return f"{md_escape(scan.summary())}: kept in the exports, as ticked on the Export page."
    return (f"{md_escape(scan.summary())} were redacted on these pages and in every export (e-mail addresses "
            f"and phone numbers in text → {md_escape('[email]')} / {md_escape('[phone]')}, id and name columns → "
            "a keyed hash); tick “Keep e-mail addresses, phone numbers and names” on the Export page to keep "
            "them in the exports.")


def require_bundle() -> Bundle | None:
    """For the drill-down pages: the current audit, or a prompt to start one."""
    bundle = current_bundle()
    if bundle is None:
        st.info("No audit yet. Try the bundled sample audit, or upload your survey export on the Start page.")
        if st.button("Try the sample audit", type="primary", key="try_sample_here"):
            if start_audit(sample_inputs()) is not None:
                st.rerun()
    return bundle
