"""Registry audit: upload a clinic list, evaluate every row, summarise, download the results.

The list is read and audited in a child process with memory and time limits
(:func:`myelo_cds.batch.audit_upload`), once per upload and audit date; the upload and the
export each leave an audit event (who, how many rows; never the file's content or name).
"""

import datetime as dt

import streamlit as st

from myelo_cds._grammar import count
from myelo_cds.batch import (
    MAX_BYTES,
    MAX_ROWS,
    UploadError,
    UploadLimits,
    audit_upload,
    results_csv,
    rows_of,
    template_csv,
)
from myelo_cds.rules.engine import PATHWAY_LABELS
from myelo_cds.ui.current_user import require
from myelo_cds.ui.downloads import audited_download_button
from myelo_cds.ui.records import store

user = require("export_records")
# One limit, from the server's own upload limit (megabytes, as Streamlit counts them).
limit = min(MAX_BYTES, int(st.get_option("server.maxUploadSize")) * 1024 * 1024)
st.title("Registry audit")
st.markdown(
    "Upload a clinic list with **each patient's most recent assessment**: a CSV or Excel (.xlsx) "
    "sheet with one column per finding (dotted names such as `patient.age_years`, `mjoa.ue_motor`, "
    "`mri.levels.C5-C6.kang`; an empty cell means *not examined*; `mjoa.not_due_to_myelopathy` takes "
    "`;`-separated items), or JSONL with one findings object per line. Every row gets the same "
    "pathway as a single consult; a row with bad data is listed with the reason and the rest go on."
)
st.download_button(
    "Template with every column and one example row (CSV)",
    data=template_csv(),
    file_name="clinic-list-template.csv",
    mime="text/csv",
    icon=":material/table_view:",
    on_click="ignore",
)
left, right = st.columns([3, 1])
upload = left.file_uploader(
    f"Clinic list (.csv, .xlsx or .jsonl; up to {limit / 1024**2:g} MB and {MAX_ROWS:,} rows)",
    type=["csv", "xlsx", "jsonl"],
)
on = right.date_input(
    "Audit date",
    value=dt.date.today(),
    format="YYYY-MM-DD",
    help="Rows without an assessment date are assessed on it; a follow-up is overdue when its window "
    "closed before it.",
)
if upload is None:
    st.info("Upload a clinic list to audit it, or download the template first.")
    st.stop()


def _progress(done: int, total: int) -> None:
    bar.progress(done / total, text=f"{done:,} of {count(total, 'row')}")


key = (upload.file_id, on)
held = st.session_state.get("registry.audit")
if held is not None and held[0] == key:
    audit = held[1]
else:
    st.session_state.pop("registry.audit", None)
    bar = st.progress(0.0, text="Reading the clinic list ...")
    try:
        audit = audit_upload(
            upload.name,
            upload.getvalue(),
            on,
            upload_limits=UploadLimits(max_bytes=limit),
            progress=_progress,
        )
    except UploadError as error:
        bar.empty()
        st.error(f"Cannot audit {upload.name}: {error}.")
        st.stop()
    bar.empty()
    store().record_event(
        "registry_audit",
        actor=user.user_id,
        detail=f"clinic list audited: {len(audit.rows):,} rows, {len(audit.errors):,} with errors",
    )
    st.session_state["registry.audit"] = (key, audit)

rows = len(audit.rows)
errors = audit.errors
assessed = rows - len(errors)
cols = st.columns(4)
cols[0].metric("Rows assessed", f"{assessed:,}", help=f"{count(rows, 'row')} in the file")
cols[1].metric("Meet surgical criteria", f"{audit.surgical:,}", help="Pathway: surgical referral")
cols[2].metric("Follow-up overdue", f"{audit.overdue:,}", help=f"Next review window closed before {on}")
cols[3].metric("Rows with errors", f"{len(errors):,}")
if audit.surgical_option:
    st.caption(
        f"A further {count(audit.surgical_option, 'case')} offered surgery or supervised structured "
        "rehabilitation."
    )

st.header("Pathways")
st.dataframe(
    [
        {"pathway": PATHWAY_LABELS.get(key, "Row not assessed (error)"), "cases": count}
        for key, count in audit.pathways.most_common()
    ],
    hide_index=True,
)
if errors:
    st.header("Rows with errors")
    st.warning(f"Not assessed: {count(len(errors), 'row')}; each reason names the field and what is allowed.")
    st.dataframe(
        [{"row": row["row"], "case_id": row["case_id"], "reason": row["error"]} for row in errors],
        hide_index=True,
    )

st.header("Every row")
st.dataframe(list(rows_of(audit)), hide_index=True)
st.caption(
    f"Rule set {audit.rows[0]['rule_set_version']} (sha256 {audit.rows[0]['rule_set_sha256'][:12]}...)."
)
audited_download_button(
    "Download the results (CSV)",
    lambda: results_csv(audit),
    file_name=f"registry-audit-{on}.csv",
    mime="text/csv",
    action="export_registry_audit",
    detail=f"registry audit results: {len(audit.rows):,} rows",
    icon=":material/download:",
)
