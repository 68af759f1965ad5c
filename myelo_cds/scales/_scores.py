"""Clinical scales: mJOA, Nurick, MSCC and the Cook cluster.

Pure functions over the findings. Scale definitions (item wording, bands, MCID,
citations) are data in ``data/scales``; this module interprets them. Every
score carries its scale id, version and citation.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from myelo_cds._paths import data_dir
from myelo_cds.errors import DataFileError, InputError
from myelo_cds.findings import MJOA, EarlierMJOA, Findings, MJOAItem

__all__ = [
    "MSCC",
    "Band",
    "CookCluster",
    "MJOAChange",
    "MJOAScore",
    "NurickGrade",
    "ScaleRef",
    "cook_cluster",
    "mjoa_change",
    "mjoa_max_total",
    "mjoa_scale",
    "mjoa_score",
    "mscc",
    "nurick_grade",
    "severity_band",
]

Band = Literal["normal", "mild", "moderate", "severe"]


class ScaleRef(BaseModel):
    """Which scale produced a number: id, version and citation."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: str
    citation: str
    evidence: str


class MJOAScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int
    band: Band
    items: dict[str, int]
    item_wording: dict[str, str]
    attributed_total: int
    """The total if deficits marked 'not due to myelopathy' were scored as normal."""
    attributed_band: Band
    """Severity band of the attributed total: the band the rules use."""
    very_severe: bool
    scale: ScaleRef


class MJOAChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    earlier_total: int
    earlier_band: Band
    current_total: int
    current_band: Band
    delta: int
    days: int | None
    mcid: int
    """MCID for the earlier (baseline) severity band."""
    reaches_mcid: bool
    band_worsened: bool
    scale: ScaleRef


class NurickGrade(BaseModel):
    model_config = ConfigDict(frozen=True)

    grade: int
    wording: str
    scale: ScaleRef


class MSCC(BaseModel):
    model_config = ConfigDict(frozen=True)

    percent: float
    scale: ScaleRef
    note: str


class CookCluster(BaseModel):
    model_config = ConfigDict(frozen=True)

    positive: int
    unknown: int
    items: dict[str, bool | None]
    interpretation: str
    scale: ScaleRef


@cache
def _load(name: str) -> dict[str, Any]:
    path: Path = data_dir() / "scales" / name
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _ref(section: dict[str, Any]) -> ScaleRef:
    return ScaleRef(
        id=section["id"],
        version=section["version"],
        citation=section["citation"],
        evidence=section["evidence"],
    )


def mjoa_scale() -> dict[str, Any]:
    """The mJOA definition from ``data/scales/mjoa.toml`` (items, levels, bands, MCID)."""
    return _load("mjoa.toml")


def mjoa_max_total() -> int:
    """The highest mJOA total (no deficit), from the scale data."""
    return int(mjoa_scale()["scale"]["max_total"])


@cache
def _band_table() -> tuple[Band, ...]:
    """Band for every total 0..max, built once from the data file."""
    spec = mjoa_scale()
    by_total: list[Band | None] = [None] * (mjoa_max_total() + 1)
    for band in spec["bands"]:
        for total in range(band["min"], band["max"] + 1):
            if by_total[total] is not None:
                raise DataFileError(f"mJOA total {total} is in two bands")
            by_total[total] = band["id"]
    missing = [total for total, band in enumerate(by_total) if band is None]
    if missing:
        raise DataFileError(f"mJOA totals without a band: {missing}")
    return tuple(band for band in by_total if band is not None)


def severity_band(total: int) -> Band:
    """Severity band of an mJOA total (bands from the scale data: severe 0-11, moderate 12-14,
    mild 15-17, normal 18).

    Raises:
        InputError: if ``total`` is outside the scale.
    """
    table = _band_table()
    if not 0 <= total < len(table):
        raise InputError(f"mJOA total {total} is outside 0-{len(table) - 1}")
    return table[total]


def _total(score: MJOA | EarlierMJOA) -> int:
    return score.ue_motor + score.le_motor + score.ue_sensation + score.sphincter


def mjoa_score(score: MJOA) -> MJOAScore:
    """Total, band and wording of an item-level mJOA."""
    spec = mjoa_scale()
    items = {item.value: getattr(score, item.value) for item in MJOAItem}
    maxima = {item["id"]: item["max"] for item in spec["items"]}
    wording = {item["id"]: item["levels"][items[item["id"]]] for item in spec["items"]}
    attributed = sum(
        maxima[name] if MJOAItem(name) in score.not_due_to_myelopathy else value
        for name, value in items.items()
    )
    total = _total(score)
    return MJOAScore(
        total=total,
        band=severity_band(total),
        items=items,
        item_wording=wording,
        attributed_total=attributed,
        attributed_band=severity_band(attributed),
        very_severe=total <= spec["very_severe"]["max"],
        scale=_ref(spec["scale"]),
    )


_BAND_ORDER: dict[Band, int] = {"normal": 0, "mild": 1, "moderate": 2, "severe": 3}


def mjoa_change(current: MJOA, earlier: EarlierMJOA, *, on: Any | None = None) -> MJOAChange:
    """Change from an earlier mJOA, with the MCID of the earlier severity band.

    Args:
        current: today's item-level mJOA.
        earlier: the earlier item-level mJOA and its date.
        on: the date of the current score (``datetime.date``), for the interval.
    """
    spec = mjoa_scale()
    before, now = _total(earlier), _total(current)
    before_band, now_band = severity_band(before), severity_band(now)
    mcid = int(spec["mcid"][before_band])
    delta = now - before
    return MJOAChange(
        earlier_total=before,
        earlier_band=before_band,
        current_total=now,
        current_band=now_band,
        delta=delta,
        days=(on - earlier.date).days if on is not None else None,
        mcid=mcid,
        reaches_mcid=abs(delta) >= mcid,
        band_worsened=_BAND_ORDER[now_band] > _BAND_ORDER[before_band],
        scale=_ref(spec["scale"]),
    )


def nurick_grade(grade: int) -> NurickGrade:
    """Wording of a Nurick grade 0-5."""
    spec = _load("nurick.toml")["scale"]
    if not 0 <= grade < len(spec["levels"]):
        raise InputError(f"Nurick grade {grade} is outside 0-{len(spec['levels']) - 1}")
    return NurickGrade(grade=grade, wording=spec["levels"][grade], scale=_ref(spec))


def mscc(di_mm: float, da_mm: float, db_mm: float) -> MSCC:
    """Maximum spinal cord compression: (1 - di / ((da + db) / 2)) x 100 %."""
    spec = _load("measures.toml")["mscc"]
    percent = (1.0 - di_mm / ((da_mm + db_mm) / 2.0)) * 100.0
    return MSCC(percent=round(percent, 1), scale=_ref(spec), note=spec["note"])


def cook_cluster(findings: Findings) -> CookCluster:
    """Count of the five Cook cluster findings; unknown items are counted apart."""
    spec = _load("measures.toml")["cook"]
    exam, age = findings.exam, findings.patient.age_years
    items: dict[str, bool | None] = {
        "gait deviation": exam.coordination.gait_deviation,
        "positive Hoffmann": exam.umn.hoffmann_tromner,
        "inverted supinator sign": exam.umn.inverted_brachioradialis,
        "positive Babinski": exam.umn.babinski,
        f"age > {spec['age_over']}": None if age is None else age > spec["age_over"],
    }
    positive = sum(1 for value in items.values() if value is True)
    unknown = sum(1 for value in items.values() if value is None)
    if positive >= spec["rule_in_min"]:
        interpretation = spec["rule_in_text"]
    elif positive + unknown <= spec["rule_out_max"]:
        interpretation = spec["rule_out_text"]
    elif unknown:
        interpretation = (
            f"{positive} of {len(items)} positive with {unknown} not examined: between "
            f"{positive} and {positive + unknown}; examine the rest to interpret"
        )
    else:
        interpretation = f"{positive} of {len(items)} positive: neither rules in nor rules out"
    return CookCluster(
        positive=positive,
        unknown=unknown,
        items=items,
        interpretation=interpretation,
        scale=_ref(spec),
    )
