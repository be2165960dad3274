"""How much the app takes in, and where it may write.

Limits. The byte limit is Streamlit's `server.maxUploadSize` (MB; .streamlit/config.toml
or STREAMLIT_SERVER_MAX_UPLOAD_SIZE): the uploader refuses a larger file in the browser,
and the engine holds a workbook's or a Parquet file's uncompressed content to the same
limit. The row limit is AUDIT_MAX_ROWS in the server's environment (default
`audit.limits.DEFAULT_MAX_ROWS`). A file over either is an inline error naming the file,
the limit and the setting.

Disk. Uploads stay in memory: Streamlit keeps them there, and `keep_uploads_in_memory`
stops its HTTP layer (Starlette) from spooling an upload over 1 MB into a temporary file
of its own. What the engine writes while auditing (DuckDB's spilled rows, columnar copies)
goes to a folder of its own inside this session's folder and is removed when the audit
ends; the session's folder (`session_folder`) is removed when Streamlit drops the session's
state (it keeps a closed tab's session for `server.disconnectedSessionTTL`, default 120 s,
and evicts it at its next bookkeeping after that), and the server's folder, which holds
them all, when the server stops or, after a crash, when the next server starts.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Mapping

import streamlit as st

from audit.limits import DEFAULT_MAX_ROWS, MB, Limits

ROWS_SETTING = "AUDIT_MAX_ROWS"
PREFIX = "survey-auditor-"          # the app's one prefix in the system's temporary folder
FOLDER_KEY = "session_folder"
MULTIPART_OVERHEAD = MB             # boundary lines and part headers around an uploaded file


def app_limits(upload_mb: int, environ: Mapping[str, str]) -> Limits:
    """The engine's limits in the app: the upload limit as the byte limit, AUDIT_MAX_ROWS as the row limit.

    Raises ValueError when AUDIT_MAX_ROWS is set to anything but a whole number (0 = no limit)."""
    text = environ.get(ROWS_SETTING, "").strip()
    if text and not text.isdigit():
        raise ValueError(f"{ROWS_SETTING}={text!r} is not a whole number of rows")
    return Limits(max_bytes=int(upload_mb) * MB, max_rows=(int(text) or None) if text else DEFAULT_MAX_ROWS,
                  raise_bytes="server.maxUploadSize (MB) in the app's .streamlit/config.toml",
                  raise_rows=f"the {ROWS_SETTING} setting of the app's server")


def keep_uploads_in_memory(max_bytes: int) -> None:
    """Let Starlette keep an upload of up to `max_bytes` in memory while it parses the request,
    instead of rolling it over into a file in the shared temporary folder past 1 MB."""
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes + MULTIPART_OVERHEAD)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # someone else's process
        return True
    return True


@functools.cache
def server_folder() -> Path:
    """This server process's folder, `<tmp>/survey-auditor-<pid>-XXXX` (mode 0700), removed at exit;
    folders left by servers of this user that are no longer running are removed first."""
    root = Path(tempfile.gettempdir())
    for old in root.glob(f"{PREFIX}*-*"):
        pid = old.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and old.is_dir() and old.stat().st_uid == os.getuid():
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, path, True)
    return path


class SessionFolder:
    """One browser session's private folder; removed when this object is (the session's state is dropped)."""

    def __init__(self, parent: Path) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="session-", dir=parent))
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self) -> None:
        self._remove()


def session_folder() -> Path:
    """The folder this session's audits write their temporary files under."""
    folder = st.session_state.get(FOLDER_KEY)
    if folder is None or not folder.path.is_dir():
        folder = st.session_state[FOLDER_KEY] = SessionFolder(server_folder())
    return folder.path
