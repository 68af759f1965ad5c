"""Synthetic, realistic spine-clinic cases for the benchmark (deterministic, seeded).

``python bench/generate.py N [--seed S] [--out DIR]`` writes ``DIR/cases-N.jsonl`` and
``DIR/cases-N.csv`` (default ``bench/.data``, kept out of git). The CSV uses the batch
format of :mod:`myelo_cds.batch`: dotted column names, empty cell = not examined, and
``mjoa.not_due_to_myelopathy`` as ``;``-separated values.

The mix follows a spine clinic: mostly DCM of every severity (some under rehabilitation or
after surgery), cord compression without myelopathy, patients not yet imaged, mimics, a few
red flags and children, and some examinations left incomplete, so that every pathway is
reached. The cases are synthetic: they are not patients and carry no clinical truth.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from myelo_cds.findings import (  # noqa: E402
    MRI,
    CervicalLevel,
    History,
    Reflexes,
    Strength,
    Symptoms,
    UMNSigns,
    field_spec,
)
from myelo_cds.scales import mjoa_scale  # noqa: E402

__all__ = ["flatten", "generate_cases", "write_csv", "write_jsonl"]

DATA_DIR = Path(__file__).resolve().parent / ".data"
FIRST_DAY = dt.date(2025, 1, 1)


def _yes_no(model: type[BaseModel], section: str) -> tuple[str, ...]:
    """The yes/no findings of a section of the findings model, in the model's order."""
    return tuple(name for name in model.model_fields if field_spec(f"{section}.{name}").kind == "tri")


# Every list of fields below is read from the findings model, so a new finding is generated too.
HISTORY = tuple(History.model_fields)
# The bladder items are set by the profiles (sphincter_change), so their cause is left out.
SYMPTOMS = tuple(name for name in _yes_no(Symptoms, "symptoms") if name != "sphincter_other_cause")
UMN = tuple(name for name in UMNSigns.model_fields if name != "new_since_last_visit")
REFLEXES = tuple(Reflexes.model_fields)
MYOTOMES = tuple(Strength.model_fields)
MRI_FLAGS = tuple(name for name in _yes_no(MRI, "mri") if name != "unlisted_levels_normal")
LEVELS = tuple(level.value for level in CervicalLevel)
DCM_LEVELS = ("C3-C4", "C4-C5", "C5-C6", "C5-C6", "C6-C7", "C6-C7")
MJOA_MAX = {item["id"]: item["max"] for item in mjoa_scale()["items"]}

# (profile, weight): a spine-clinic referral mix.
PROFILES = (
    ("dcm", 34),
    ("rehab", 10),
    ("compression_only", 12),
    ("no_mri", 8),
    ("no_compression", 8),
    ("postoperative", 8),
    ("mimic", 6),
    ("red_flag", 7),
    ("paediatric", 1),
    ("incomplete", 6),
)


def _normal_case(rng: random.Random, number: int) -> dict[str, Any]:
    """A fully examined adult with no deficit, an MRI read as normal and an mJOA of 18."""
    when = FIRST_DAY + dt.timedelta(days=rng.randrange(365))
    return {
        "case_id": f"B{number:07d}",
        "assessment_date": when.isoformat(),
        "patient": {
            "age_years": rng.randint(35, 88),
            "sex": rng.choice(("female", "male")),
            "symptom_duration_months": rng.choice((2, 3, 6, 9, 12, 18, 24, 36)),
            "smoker": rng.random() < 0.2,
            "comorbidity_count": rng.randint(0, 4),
            "psychiatric_comorbidity": rng.random() < 0.15,
            "diabetes": rng.random() < 0.15,
            "history": dict.fromkeys(HISTORY, False),
            "management": "untreated",
        },
        "symptoms": {
            **dict.fromkeys(SYMPTOMS, False),
            "neck_pain": rng.random() < 0.6,
            "sphincter_change": "none",
            "onset_tempo": "chronic",
        },
        "exam": {
            "reflexes": {name: {"left": 2, "right": 2} for name in REFLEXES},
            "umn": dict.fromkeys(UMN, False),
            "strength": {name: {"left": 5, "right": 5} for name in MYOTOMES},
            "coordination": {
                "grip_release_10s": rng.randint(20, 30),
                "gait_deviation": False,
                "tandem_gait_abnormal": False,
                "romberg_positive": False,
                "walk_30m_seconds": round(rng.uniform(18, 26), 1),
                "walk_30m_steps": rng.randint(36, 44),
            },
            "sensation": {
                "sensory_level": "none",
                "dermatomal_loss": False,
                "stocking_glove_loss": False,
                "vibration_proprioception_loss": False,
                "dissociated_cape_loss": False,
            },
            "fasciculations_widespread": False,
            "tongue_signs": False,
        },
        "mjoa": dict(MJOA_MAX),
        "nurick": 0,
        "mri": {
            "available": True,
            "levels": {},
            "unlisted_levels_normal": True,
            **dict.fromkeys(MRI_FLAGS, False),
        },
        "electro": {},
    }


def _days_before(case: dict[str, Any], days: int) -> str:
    return (dt.date.fromisoformat(case["assessment_date"]) - dt.timedelta(days=days)).isoformat()


def _mjoa_items(rng: random.Random, total: int) -> dict[str, int]:
    """Item scores adding up to ``total`` (the deficit spread over random items)."""
    items = dict(MJOA_MAX)
    deficit = 18 - total
    while deficit:
        item = rng.choice(("ue_motor", "le_motor", "le_motor", "ue_sensation", "sphincter"))
        if items[item] > (1 if item == "le_motor" else 0):
            items[item] -= 1
            deficit -= 1
    return items


def _set_mjoa(case: dict[str, Any], rng: random.Random, total: int) -> None:
    case["mjoa"] = _mjoa_items(rng, total)
    case["nurick"] = 0 if total == 18 else 1 if total >= 15 else 3 if total >= 12 else 4


def _earlier(case: dict[str, Any], rng: random.Random, change: int, days: int) -> None:
    """An earlier mJOA ``days`` ago, ``change`` points from the current total."""
    now = sum(case["mjoa"][item] for item in MJOA_MAX)
    before = max(1, min(18, now - change))
    case["earlier_mjoa"] = {"date": _days_before(case, days), **_mjoa_items(rng, before)}


def _myelopathic(case: dict[str, Any], rng: random.Random) -> None:
    """Myelopathic symptoms and upper-motor-neuron signs."""
    symptoms, exam = case["symptoms"], case["exam"]
    for name in ("hand_clumsiness", "gait_imbalance", "nondermatomal_numbness", "falls"):
        symptoms[name] = rng.random() < 0.6
    symptoms[rng.choice(("hand_clumsiness", "gait_imbalance"))] = True
    for name in rng.sample(REFLEXES, rng.randint(2, 5)):
        exam["reflexes"][name] = {"left": 3, "right": rng.choice((3, 3, 4))}
    for name in ("hoffmann_tromner", "babinski", "inverted_brachioradialis", "finger_escape"):
        exam["umn"][name] = rng.random() < 0.4
    exam["umn"]["hoffmann_tromner"] = rng.random() < 0.8
    exam["coordination"]["gait_deviation"] = symptoms["gait_imbalance"]
    exam["coordination"]["tandem_gait_abnormal"] = symptoms["gait_imbalance"]
    exam["coordination"]["grip_release_10s"] = rng.randint(8, 19)
    if rng.random() < 0.3:
        side = rng.choice(("left", "right"))
        exam["strength"][rng.choice(("C7", "C8", "T1"))][side] = 4


def _compress(case: dict[str, Any], rng: random.Random, kang: int | None = None) -> None:
    """Cord compression at one to three typical levels."""
    levels = case["mri"]["levels"]
    for level in rng.sample(DCM_LEVELS, rng.randint(1, 3)):
        grade = kang if kang is not None else rng.choice((2, 2, 3))
        signal = rng.choice(("none", "none", "faint", "sharp"))
        levels[level] = {
            "kang": grade,
            "t2_signal": signal,
            "t1_hypointensity": signal == "sharp" and rng.random() < 0.3,
            "snake_eyes": False,
        }
        if signal != "none":
            levels[level]["t2_extent_segments"] = rng.randint(1, 3)
    for level in rng.sample(LEVELS, 2):
        levels.setdefault(level, {"kang": rng.choice((0, 1)), "t2_signal": "none"})
    case["mri"]["opll"] = rng.random() < 0.08
    if case["mri"]["opll"]:
        case["mri"]["k_line"] = rng.choice(("positive", "negative"))
    case["mri"]["kyphosis"] = rng.random() < 0.1


def _band_total(rng: random.Random) -> int:
    return rng.choice((18, 17, 16, 15, 15, 14, 13, 13, 12, 11, 10, 9, 7))


def _dcm(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _compress(case, rng)
    _set_mjoa(case, rng, _band_total(rng))
    if rng.random() < 0.35:
        _earlier(case, rng, rng.choice((-3, -2, -1, -1, 0, 0, 1, 2)), rng.randint(60, 400))


def _rehab(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _compress(case, rng)
    _set_mjoa(case, rng, rng.choice((15, 16, 16, 17, 17, 18)))
    days = rng.randint(30, 300)
    case["patient"]["management"] = "supervised_rehabilitation"
    case["patient"]["management_since"] = _days_before(case, days)
    _earlier(case, rng, rng.choice((-2, -1, 0, 0, 1, 2)), days)
    case["exam"]["umn"]["new_since_last_visit"] = rng.random() < 0.05


def _compression_only(case: dict[str, Any], rng: random.Random) -> None:
    _compress(case, rng, kang=rng.choice((2, 2, 3)))
    if rng.random() < 0.4:
        case["symptoms"]["radicular_arm_pain"] = True
        case["symptoms"]["dermatomal_numbness"] = rng.random() < 0.6
        case["exam"]["sensation"]["dermatomal_loss"] = rng.random() < 0.5
        if rng.random() < 0.5:
            case["electro"] = {"summary": "radiculopathy", "sep_mep_abnormal": rng.random() < 0.3}


def _no_mri(case: dict[str, Any], rng: random.Random) -> None:
    case["mri"] = {"available": False}
    if rng.random() < 0.7:
        _myelopathic(case, rng)
        _set_mjoa(case, rng, _band_total(rng))
    else:
        case["symptoms"]["radicular_arm_pain"] = True


def _no_compression(case: dict[str, Any], rng: random.Random) -> None:
    case["mri"]["levels"] = {level: {"kang": rng.choice((0, 1, 1))} for level in rng.sample(LEVELS, 3)}
    kind = rng.choice(("carpal_tunnel", "neuropathy", "radiculopathy", "noncompressive"))
    if kind == "carpal_tunnel":
        case["symptoms"]["nondermatomal_numbness"] = True
        case["electro"] = {"summary": "carpal_tunnel"}
        case["mjoa"]["ue_sensation"] = 2
        case["mjoa"]["not_due_to_myelopathy"] = ["ue_sensation"]
    elif kind == "neuropathy":
        case["exam"]["sensation"]["stocking_glove_loss"] = True
        case["exam"]["reflexes"]["achilles"] = {"left": 0, "right": 0}
        case["electro"] = {"summary": "neuropathy"}
        case["mjoa"]["le_motor"] = 6
        case["mjoa"]["not_due_to_myelopathy"] = rng.choice(([], ["le_motor"]))
    elif kind == "radiculopathy":
        case["symptoms"]["radicular_arm_pain"] = True
        case["exam"]["sensation"]["dermatomal_loss"] = True
    else:
        _myelopathic(case, rng)
        _set_mjoa(case, rng, rng.randint(12, 16))
        case["exam"]["coordination"]["romberg_positive"] = True
        case["exam"]["sensation"]["vibration_proprioception_loss"] = True
        case["patient"]["history"]["bariatric_surgery"] = rng.random() < 0.5


def _postoperative(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _compress(case, rng, kang=rng.choice((0, 1)))
    days = rng.randint(14, 700)
    case["patient"]["management"] = "postoperative"
    case["patient"]["management_since"] = _days_before(case, days)
    case["patient"]["history"]["prior_cervical_surgery"] = True
    _set_mjoa(case, rng, rng.randint(11, 18))
    _earlier(case, rng, rng.choice((-3, -2, -1, 0, 1, 2, 2, 3, 3)), days + 7)


def _mimic(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _set_mjoa(case, rng, rng.randint(11, 16))
    if rng.random() < 0.6:
        _compress(case, rng)
    kind = rng.choice(("als", "demyelination", "atypical_lesion", "thoracic"))
    if kind == "als":
        case["exam"]["fasciculations_widespread"] = True
        case["exam"]["tongue_signs"] = rng.random() < 0.5
        case["electro"] = {"summary": "widespread_anterior_horn"}
    elif kind == "demyelination":
        case["patient"]["history"]["optic_neuritis"] = True
        case["symptoms"]["onset_tempo"] = "subacute"
        case["symptoms"]["lhermitte"] = True
    elif kind == "atypical_lesion":
        case["mri"][rng.choice(("longitudinally_extensive_lesion", "intramedullary_mass", "syrinx"))] = True
    else:
        case["exam"]["sensation"]["sensory_level"] = "thoracic"
        case["mri"]["thoracic_cord_compression"] = rng.random() < 0.5


def _red_flag(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _set_mjoa(case, rng, rng.randint(8, 15))
    _compress(case, rng)
    symptoms, history = case["symptoms"], case["patient"]["history"]
    kind = rng.choice(("trauma", "ambulation", "rapid_mjoa", "sphincter", "fever", "cancer", "breathing"))
    if kind == "trauma":
        history["recent_trauma"] = True
        symptoms["deficit_after_trauma"] = True
        symptoms["onset_tempo"] = "acute"
    elif kind == "ambulation":
        symptoms["rapid_loss_of_ambulation"] = True
    elif kind == "rapid_mjoa":
        _earlier(case, rng, -rng.randint(2, 4), rng.randint(7, 28))
    elif kind == "sphincter":
        symptoms["sphincter_change"] = "new_acute"
    elif kind == "fever":
        symptoms["fever"] = True
        history["iv_drug_use"] = rng.random() < 0.5
        case["mri"]["epidural_collection"] = rng.random() < 0.5
    elif kind == "cancer":
        history["cancer"] = True
        symptoms["onset_tempo"] = "subacute"
    else:
        symptoms["breathing_difficulty"] = True
        case["mri"]["levels"]["C3-C4"] = {"kang": 3, "t2_signal": "sharp", "t2_extent_segments": 2}


def _paediatric(case: dict[str, Any], rng: random.Random) -> None:
    case["patient"]["age_years"] = rng.randint(6, 17)
    if rng.random() < 0.5:
        _myelopathic(case, rng)


def _incomplete(case: dict[str, Any], rng: random.Random) -> None:
    _myelopathic(case, rng)
    _compress(case, rng)
    if rng.random() < 0.5:
        del case["mjoa"]
        del case["nurick"]
    else:
        _set_mjoa(case, rng, 18)
        case["exam"]["reflexes"] = {}
        case["exam"]["umn"] = {}
        for name in ("hand_clumsiness", "gait_imbalance", "falls", "nondermatomal_numbness"):
            del case["symptoms"][name]


_BUILD = {
    "dcm": _dcm,
    "rehab": _rehab,
    "compression_only": _compression_only,
    "no_mri": _no_mri,
    "no_compression": _no_compression,
    "postoperative": _postoperative,
    "mimic": _mimic,
    "red_flag": _red_flag,
    "paediatric": _paediatric,
    "incomplete": _incomplete,
}
_NAMES = tuple(name for name, _ in PROFILES)
_WEIGHTS = tuple(weight for _, weight in PROFILES)


def _forget_some(case: dict[str, Any], rng: random.Random) -> None:
    """Leave a few yes/no findings unrecorded, as real clinic lists do."""
    for section in (case["patient"]["history"], case["symptoms"], case["exam"]["umn"]):
        for name in [key for key, value in section.items() if isinstance(value, bool)]:
            if rng.random() < 0.03:
                del section[name]


def generate_cases(count: int, seed: int = 20250101) -> Iterator[dict[str, Any]]:
    """``count`` valid findings objects (JSON-like), the same for the same seed."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        profile = rng.choices(_NAMES, _WEIGHTS)[0]
        case = _normal_case(rng, number)
        _BUILD[profile](case, rng)
        if rng.random() < 0.3:
            _forget_some(case, rng)
        yield case


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested findings object as one CSV row (dotted column names, text cells)."""
    row: dict[str, str] = {}
    for key, value in data.items():
        column = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, column + "."))
        elif isinstance(value, list):
            row[column] = ";".join(value)
        elif isinstance(value, bool):
            row[column] = "true" if value else "false"
        elif value is not None:
            row[column] = str(value)
    return row


def write_jsonl(cases: Iterable[dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(case, separators=(",", ":")) + "\n")
            count += 1
    return count


def write_csv(count: int, seed: int, path: Path) -> int:
    """Two passes over the seeded cases: the header (every column used), then the rows."""
    columns: dict[str, None] = {}
    for case in generate_cases(count, seed):
        columns.update(dict.fromkeys(flatten(case)))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for case in generate_cases(count, seed):
            writer.writerow(flatten(case))
    return count


def write_both(count: int, seed: int, out: Path) -> tuple[Path, Path]:
    """Write ``cases-COUNT.jsonl`` and ``cases-COUNT.csv`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    jsonl, table = out / f"cases-{count}.jsonl", out / f"cases-{count}.csv"
    write_jsonl(generate_cases(count, seed), jsonl)
    write_csv(count, seed, table)
    return jsonl, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of cases")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default bench/.data)")
    args = parser.parse_args(argv)
    jsonl, table = write_both(args.count, args.seed, args.out)
    print(f"{args.count:,} cases -> {jsonl}, {table}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
