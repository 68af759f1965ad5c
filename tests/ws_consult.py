"""The moderate DCM consult of ``tests/e2e/consult_steps.py``, over the websocket.

The same findings a clinician enters in the browser (widget by widget, each a rerun of the
consult fragment), then the case id, the clinician id and *Save this assessment to the record*.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

from tests.streamlit_ws import RunResult, StreamlitSession

__all__ = ["MODERATE_DCM", "findings_only", "full_consult"]

#: (widget key, value as the front end sends it), in examination order.
MODERATE_DCM: Sequence[tuple[str, Any]] = (
    ("f.patient.age_years", 64),
    ("f.symptoms.fever", ["No"]),
    ("f.symptoms.rapid_loss_of_ambulation", ["No"]),
    ("f.symptoms.hand_clumsiness", ["Yes"]),
    ("f.symptoms.gait_imbalance", ["Yes"]),
    ("f.exam.umn.hoffmann_tromner", ["Yes"]),
    ("f.mjoa.ue_motor", ["3 - Can button a shirt, with great difficulty"]),
    ("f.mjoa.le_motor", ["5 - Moderate-to-significant instability, but manages stairs without a handrail"]),
    ("f.mjoa.ue_sensation", ["2 - Mild sensory loss"]),
    ("f.mjoa.sphincter", ["3 - Normal micturition"]),
    ("f.mri.available", True),
    ("f.mri.levels.C5-C6.kang", ["2"]),
    ("f.mri.unlisted_levels_normal", ["Yes"]),
)
SAVE = "Save this assessment to the record"


async def _pause(think_seconds: float) -> None:
    if think_seconds:
        await asyncio.sleep(random.uniform(0.5, 1.5) * think_seconds)


async def full_consult(
    session: StreamlitSession,
    case_id: str,
    clinician_id: str,
    think_seconds: float = 0.0,
    on_step: Callable[[RunResult], object] | None = None,
) -> list[RunResult]:
    """Open the consult, enter the findings, name case and clinician, save; one result per step.

    ``think_seconds`` is the mean pause before each step (uniform from half to one and a half
    times it), like a clinician reading the form; ``on_step`` is called with each step's result
    as soon as it arrives.
    """
    results = [await session.open()]
    for key, value in [*MODERATE_DCM, ("f.case_id", case_id), ("clinician_id", clinician_id)]:
        await _pause(think_seconds)
        results.append(await session.change(key, value))
        if on_step is not None:
            on_step(results[-1])
    await _pause(think_seconds)
    results.append(await session.click(SAVE))
    if on_step is not None:
        on_step(results[-1])
    return results


async def findings_only(session: StreamlitSession, think_seconds: float = 0.0) -> list[RunResult]:
    """Open the page and enter the findings only (for a page with the form and nothing else)."""
    results = [await session.open()]
    for key, value in MODERATE_DCM:
        await _pause(think_seconds)
        results.append(await session.change(key, value))
    return results
