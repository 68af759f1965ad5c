"""Exports of an assessment: consult note, patient handout, calendar and findings JSON; and the
import of findings from a FHIR Bundle (an EHR's record, or our own export read back).

Each export is built from the domain models only (no UI library). PDF and calendar libraries
are imported when an export is asked for, so importing this package stays cheap.
"""

from myelo_cds.exports._fhir_import import FromEhr, ImportedFindings, NotUnderstood, findings_from_bundle
from myelo_cds.exports._pdf import FontsMissingError
from myelo_cds.exports.assessment_json import assessment_json
from myelo_cds.exports.calendar import schedule_ics
from myelo_cds.exports.consult_note import consult_note_pdf, consult_note_text, consult_summary
from myelo_cds.exports.handout import handout_pdf, handout_text

__all__ = [
    "FontsMissingError",
    "FromEhr",
    "ImportedFindings",
    "NotUnderstood",
    "assessment_json",
    "consult_note_pdf",
    "consult_note_text",
    "consult_summary",
    "findings_from_bundle",
    "handout_pdf",
    "handout_text",
    "schedule_ics",
]
