"""Benchmark page: the registry audit of a file on the server's disk, through the same call as
the Registry audit page (``audit_upload``: the child process with its limits). The file is named
by ``MYELO_BENCH_UPLOAD``; a websocket client opening this page stands in for an upload."""

import datetime as dt
import os
import time
from pathlib import Path

import streamlit as st

from myelo_cds.batch import UploadError, audit_upload

path = Path(os.environ["MYELO_BENCH_UPLOAD"])
started = time.perf_counter()
try:
    audit = audit_upload(path.name, path.read_bytes(), dt.date(2026, 12, 1))
except UploadError as error:
    st.write(f"refused after {time.perf_counter() - started:.1f} s: {error}")
else:
    st.write(f"audited {len(audit.rows)} rows in {time.perf_counter() - started:.1f} s")
