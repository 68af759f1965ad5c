"""A teaching case: the narrative a resident reads, the findings the engine reads, and the answer.

Cases are reviewable data files in ``data/cases`` (one JSON file per case). The expected pathway
is written by the case author from the clinical reference, never computed from the engine; a
test checks that the two agree, so a rule change that alters a teaching answer is caught.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from myelo_cds.errors import DataFileError
from myelo_cds.findings import Findings
from myelo_cds.rules.result import Pathway

__all__ = [
    "DIFFICULTIES",
    "SCT_SCALE",
    "TOPICS",
    "Difficulty",
    "ExpectedAnswer",
    "ScriptConcordanceItem",
    "TeachingCase",
    "Topic",
]

Topic = Literal[
    "mild_dcm",
    "moderate_dcm",
    "severe_dcm",
    "ascc_without_radiculopathy",
    "ascc_with_radiculopathy",
    "red_flag",
    "central_cord",
    "acute_retention",
    "respiratory",
    "abscess",
    "metastasis",
    "mimic",
    "als",
    "ms_nmosd",
    "b12_copper",
    "carpal_tunnel",
    "thoracic",
    "syrinx",
    "postoperative",
    "rehabilitation",
    "deterioration",
    "imaging",
    "work_up",
]
TOPICS: tuple[str, ...] = Topic.__args__  # type: ignore[attr-defined]
Difficulty = Literal["introductory", "intermediate", "advanced"]
DIFFICULTIES: tuple[str, ...] = Difficulty.__args__  # type: ignore[attr-defined]

#: The script-concordance Likert scale (Charlin/Fournier format): how the new information
#: changes the hypothesis, from much less (-2) to much more (+2) appropriate.
SCT_SCALE: dict[int, str] = {
    -2: "much less appropriate",
    -1: "less appropriate",
    0: "neither more nor less appropriate",
    1: "more appropriate",
    2: "much more appropriate",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedAnswer(_Model):
    """The answer the case author gives from the clinical reference."""

    pathway: Pathway = Field(description="The pathway the clinical reference leads to.")
    disputed: bool = Field(
        default=False, description="Experts legitimately disagree; every accepted answer scores."
    )
    accepted: tuple[Pathway, ...] = Field(
        default=(), description="Other pathways accepted as correct (only when disputed)."
    )
    dispute_note: str | None = Field(default=None, description="Why experts disagree.")

    @model_validator(mode="after")
    def _accepted_only_when_disputed(self) -> ExpectedAnswer:
        if self.disputed and not (self.accepted and self.dispute_note):
            raise DataFileError("a disputed case needs accepted answers and a dispute_note saying why")
        if not self.disputed and (self.accepted or self.dispute_note):
            raise DataFileError("accepted answers and a dispute_note belong to disputed cases only")
        return self

    @property
    def correct_pathways(self) -> tuple[str, ...]:
        """Every pathway that scores as correct."""
        return (self.pathway, *(p for p in self.accepted if p != self.pathway))


class ScriptConcordanceItem(_Model):
    """A grey-zone question: given this new finding, is the hypothesis more or less appropriate?

    Scored by aggregate scoring against the stated panel: credit = panel members who chose the
    answer / members who chose the modal answer.
    """

    hypothesis: str = Field(min_length=5, description="If you were considering ...")
    new_information: str = Field(min_length=5, description="... and then you learn that ...")
    panel: dict[int, int] = Field(description="Likert answer (-2..2) -> number of panel members.")
    panel_source: str = Field(min_length=5, description="Who the panel is (or that it is illustrative).")
    explanation: str = Field(min_length=5, description="Why the panel answered as it did.")

    @field_validator("panel")
    @classmethod
    def _panel_on_the_scale(cls, panel: dict[int, int]) -> dict[int, int]:
        outside = sorted(set(panel) - set(SCT_SCALE))
        if outside:
            raise DataFileError(f"panel answers must be -2..2, not {outside}")
        if any(count < 0 for count in panel.values()):
            raise DataFileError("panel counts must be 0 or more")
        if sum(panel.values()) < 1:
            raise DataFileError("the panel needs at least one answer")
        return {answer: panel.get(answer, 0) for answer in SCT_SCALE}


class TeachingCase(_Model):
    """One de-identified teaching case (narrative, findings, answer, teaching points)."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Case id (letters, digits, . _ -).")
    title: str = Field(min_length=3, max_length=120)
    topics: tuple[Topic, ...] = Field(min_length=1)
    difficulty: Difficulty
    stem: str = Field(min_length=80, description="The narrative the resident reads.")
    mri_description: str | None = Field(default=None, description="The MRI report, when there is one.")
    findings: Findings
    expected: ExpectedAnswer
    teaching_points: tuple[str, ...] = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1)
    script_concordance: tuple[ScriptConcordanceItem, ...] = ()
    derived_from: str | None = Field(default=None, description="Validation vignette it was written from.")
