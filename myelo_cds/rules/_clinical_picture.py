"""The clinical picture in words: the syndrome, the imaging and the scope kept apart.

Every statement reads the facts the rules read, and every number in it comes from the rule
parameters or the mJOA scale data, so the words cannot disagree with the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from myelo_cds.findings import MRI
from myelo_cds.rules.result import Scores
from myelo_cds.scales import mjoa_max_total

__all__ = ["clinical_picture"]

_MYELOMALACIA = {
    True: "yes: T1 hypointensity with T2 signal (cord softening); an imaging finding, not the syndrome",
    False: "no (no T1 hypointensity with T2 signal reported)",
    None: "not reported",
}


def _myelopathy(facts: Mapping[str, Any]) -> str:
    if facts["myelopathy"] is True:
        basis = []
        if facts["myelopathic_symptom"] is True and facts["umn_sign"] is True:
            basis.append("myelopathic symptom with an upper-motor-neuron sign")
        if facts["mjoa_deficit_attributed"] is True:
            basis.append("mJOA deficit attributed to myelopathy")
        return "present (" + "; ".join(basis) + ")"
    if facts["myelopathy"] is False:
        return "not shown on the findings entered"
    return "undetermined: examination or mJOA incomplete"


def _severity(scores: Scores) -> str | None:
    if scores.mjoa is None:
        return None
    m = scores.mjoa
    top = mjoa_max_total()
    if m.attributed_total == m.total:
        return f"{m.band} (mJOA {m.total}/{top})"
    return (
        f"{m.attributed_band} (mJOA attributed to myelopathy {m.attributed_total}/{top}; "
        f"raw {m.total}/{top}, {m.band})"
    )


def _imaging(mri: MRI, facts: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, str]:
    if not mri.available:
        return {"imaging": "no MRI available"}
    compressed = [
        f"{level.value} (Kang {finding.kang})"
        for level, finding in sorted(mri.levels.items())
        if finding.kang is not None and finding.kang >= params["compression_min_kang"]
    ]
    picture = {
        "cord_compression": ", ".join(compressed)
        if compressed
        else ("none at the graded levels" if facts["compression"] is False else "not fully graded"),
        "myelomalacia_on_imaging": _MYELOMALACIA[facts["myelomalacia"]],
    }
    if facts["high_cervical_compression"] is True:
        picture["level_note"] = "compression at C3-C5 segments: breathing (phrenic nerve) can be affected"
    return picture


def _scope(facts: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    scope = []
    if facts["paediatric"]:
        scope.append(f"age under {params['adult_min_age']} (outside the adult DCM guideline)")
    if facts["discordant"] is True:
        scope.append("thoracic-level findings (outside the cervical DCM guideline)")
    if facts["myelopathy"] is True and facts["compression"] is False:
        scope.append("non-compressive myelopathy (not DCM)")
    if facts["atypical_lesion"] is True or facts["alternative"] is True:
        scope.append("features of another disease: see differentials")
    return scope


def clinical_picture(
    mri: MRI, facts: Mapping[str, Any], scores: Scores, params: Mapping[str, Any]
) -> dict[str, str]:
    """Plain statements that keep the syndrome, the imaging and the scope apart."""
    picture = {"myelopathy": _myelopathy(facts)}
    severity = _severity(scores)
    if severity is not None:
        picture["severity"] = severity
    picture.update(_imaging(mri, facts, params))
    scope = _scope(facts, params)
    picture["scope"] = "; ".join(scope) if scope else "within the adult DCM guideline on current findings"
    if facts["myelopathy"] is True and facts["compression"] is True and not scope:
        picture["likely_cause"] = "degenerative cervical myelopathy (cord compression explains the findings)"
    return picture
