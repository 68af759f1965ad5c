"""The CDS Hooks feedback endpoint: what the clinician did with a card (CDS Hooks 2.0, "Feedback").

``POST /cds-services/{id}/feedback`` takes ``{"feedback": [...]}``, each item naming the card's
``uuid``, the ``outcome`` (``accepted``, with the accepted suggestions' ids, or ``overridden``,
with an optional reason), and the ``outcomeTimestamp`` (RFC 3339, UTC). The body is validated
(400 naming the field otherwise; at most 20 items) and each item becomes one audit event, which
the route's guard writes: card id, outcome, suggestion ids and override reason code. The clinician's free-text
``userComment`` is never recorded (it may name the patient): only that there was one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["FeedbackRequest", "feedback_endpoint"]

_Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
_MAX_ITEMS = 20  # one audit event each


class _Coding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    system: Annotated[str, StringConstraints(max_length=300)] | None = None
    display: str | None = None


class _OverrideReason(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: _Coding | None = None
    user_comment: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, alias="userComment"
    )


class _AcceptedSuggestion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: _Id


class _Feedback(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    card: _Id
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: list[_AcceptedSuggestion] = Field(
        default_factory=list, alias="acceptedSuggestions", max_length=20
    )
    override_reason: _OverrideReason | None = Field(default=None, alias="overrideReason")
    outcome_timestamp: dt.datetime = Field(alias="outcomeTimestamp")

    @model_validator(mode="after")
    def _consistent(self) -> _Feedback:
        if self.outcome == "accepted" and not self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is required when the outcome is accepted")
        if self.outcome_timestamp.tzinfo is None:
            raise ValueError("outcomeTimestamp needs a time zone (UTC, e.g. 2021-12-11T10:05:31Z)")
        return self


class FeedbackRequest(BaseModel):
    """The body of a feedback call."""

    model_config = ConfigDict(extra="ignore")

    feedback: list[_Feedback] = Field(min_length=1, max_length=_MAX_ITEMS)

    def audit_details(self) -> list[str]:
        """One audit line per item: ids, outcome and reason code, never the comment."""
        parts = []
        for item in self.feedback:
            text = f"card {item.card} {item.outcome}"
            if item.accepted_suggestions:
                text += " suggestions " + ",".join(s.id for s in item.accepted_suggestions)
            reason = item.override_reason
            if reason is not None and reason.reason is not None:
                text += f" reason {reason.reason.code[:40]}"
            if reason is not None and reason.user_comment:
                text += " (with a comment, not recorded)"
            parts.append(text)
        return parts


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"feedback refused: {where}: {first['msg']}"


async def feedback_endpoint(request: Request) -> Response:
    """Validate the feedback and leave its lines for the audit (``request.state.audit_details``)."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
    try:
        received = FeedbackRequest.model_validate(body)
    except ValidationError as error:
        return JSONResponse({"error": _problem(error)}, status_code=400)
    request.state.audit_details = received.audit_details()
    return JSONResponse({"received": len(received.feedback)})
