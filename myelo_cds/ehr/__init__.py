"""The app's side of SMART on FHIR, without HTTP routes: what an EHR launch imports and where
each value came from, the hand-off to the consult page, and the write-back on request.

The routes that run the launch are in :mod:`myelo_cds.service.smart`; the consult page's side
is :mod:`myelo_cds.ui.smart_launch`.
"""

from myelo_cds.ehr._conditions import EhrCondition, read_conditions
from myelo_cds.ehr._handoff import HANDOFF_COOKIE, HANDOFF_SECONDS, claim_handoff, hand_off
from myelo_cds.ehr._id_token import fhir_user_reference, public_key_set, verify_id_token
from myelo_cds.ehr._record import EhrGrant, EhrImport, EhrSource, LaunchError, import_record
from myelo_cds.ehr._write_back import WriteBackError, write_back, write_back_resources

__all__ = [
    "HANDOFF_COOKIE",
    "HANDOFF_SECONDS",
    "EhrCondition",
    "EhrGrant",
    "EhrImport",
    "EhrSource",
    "LaunchError",
    "WriteBackError",
    "claim_handoff",
    "fhir_user_reference",
    "hand_off",
    "import_record",
    "public_key_set",
    "read_conditions",
    "verify_id_token",
    "write_back",
    "write_back_resources",
]
