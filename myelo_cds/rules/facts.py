"""From findings to facts: the named, three-valued clinical statements the rule tables read.

Two layers, so that the engine can ask "what if this unknown were known?":

* :func:`observe` reads the :class:`~myelo_cds.findings.Findings` once into *leaves*: simple
  values (``True``/``False``/``None`` for unknown, or a number) each traceable to input fields
  (:data:`LEAF_INPUTS`).
* :func:`combine` derives the composite facts (myelopathy, compression, course...) and the
  decision-table features from the leaves alone, with Kleene three-valued logic: unknown
  never becomes "absent" by accident.

Both layers are lists of steps (:class:`Step`: a small pure function and the names of its
inputs), run in order. :func:`observe` and :func:`combine` run them for one case; the batch
path (:mod:`myelo_cds.batch._columnar`) runs the same functions over whole columns of cases.

Thresholds come from the rule set's ``[parameters]``; none is written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from myelo_cds._dates import add_months
from myelo_cds.findings import (
    CervicalLevel,
    EdxSummary,
    Findings,
    History,
    KLine,
    Management,
    MJOAItem,
    OnsetTempo,
    SensoryLevel,
    SphincterChange,
    Symptoms,
    T2Signal,
    field_model,
)
from myelo_cds.scales import mjoa_scale, severity_band

__all__ = [
    "FACT_STEPS",
    "FEATURES",
    "FEATURE_ORDER",
    "INPUT_PATHS",
    "LEAF_INPUTS",
    "LEAF_NAMES",
    "LEAF_STEPS",
    "ON",
    "Leaves",
    "Step",
    "all3",
    "any3",
    "combine",
    "known_fact_names",
    "not3",
    "observe",
]

Tri = bool | None
Leaves = dict[str, Any]
Params = Mapping[str, Any]

#: The decision-table columns and the values each may take.
FEATURES: dict[str, tuple[str, ...]] = {
    "red_flag": ("no", "yes"),
    "scope": ("adult", "paediatric"),
    "management": ("untreated", "rehab_early", "rehab_trial_complete", "postoperative"),
    "compression": ("no", "unknown", "yes"),
    "myelopathy": ("no", "unknown", "yes"),
    "band": ("normal", "mild", "moderate", "severe", "unknown"),
    "course": ("improved", "not_improved", "possible_deterioration", "deteriorated", "unknown"),
    "radiculopathy": ("no", "unknown", "yes"),
    "alternative": ("no", "unknown", "yes"),
    "atypical_lesion": ("no", "unknown", "yes"),
    "discordant": ("no", "unknown", "yes"),
}

#: Clinical worsening per feature as covering pairs (better, worse). A finding that gets worse
#: moves a three-valued fact up the order no < unknown < yes (Kleene logic is monotone in it),
#: the mJOA band down the scale, and the course towards deterioration. Scope and management
#: are context, not findings, and have no order.
FEATURE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "red_flag": (("no", "yes"),),
    "compression": (("no", "unknown"), ("unknown", "yes")),
    "myelopathy": (("no", "unknown"), ("unknown", "yes")),
    "band": (("normal", "mild"), ("mild", "moderate"), ("moderate", "severe")),
    "course": (
        ("improved", "not_improved"),
        ("not_improved", "possible_deterioration"),
        ("possible_deterioration", "deteriorated"),
        ("unknown", "deteriorated"),
    ),
    "radiculopathy": (("no", "unknown"), ("unknown", "yes")),
    "alternative": (("no", "unknown"), ("unknown", "yes")),
    "atypical_lesion": (("no", "unknown"), ("unknown", "yes")),
    "discordant": (("no", "unknown"), ("unknown", "yes")),
}


# --- Kleene logic -------------------------------------------------------------------------


def any3(values: Iterable[Tri]) -> Tri:
    """Three-valued OR: True if any is True, False if all are False, else unknown."""
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
    return None if unknown else False


def all3(values: Iterable[Tri]) -> Tri:
    """Three-valued AND: False if any is False, True if all are True, else unknown."""
    unknown = False
    for value in values:
        if value is False:
            return False
        if value is None:
            unknown = True
    return None if unknown else True


def not3(value: Tri) -> Tri:
    return None if value is None else not value


# --- leaves -------------------------------------------------------------------------------

_ARM_REFLEXES = ("biceps", "triceps", "brachioradialis")
_LEG_REFLEXES = ("patellar", "achilles")
_UMN_SIGNS = (
    "hoffmann_tromner",
    "babinski",
    "sustained_clonus",
    "inverted_brachioradialis",
    "finger_escape",
    "pectoralis",
    "scapulohumeral",
    "jaw_jerk_brisk",
)
_MYOTOMES = ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")
# Yes/no symptoms read as leaves of their own (the bladder items form the "sphincter" leaf).
_SYMPTOM_FLAGS = tuple(
    name
    for name, info in Symptoms.model_fields.items()
    if info.annotation == (bool | None) and name != "sphincter_other_cause"
)
_MRI_FLAGS = (
    "opll",
    "kyphosis",
    "dynamic_instability",
    "longitudinally_extensive_lesion",
    "dorsal_column_signal",
    "intramedullary_mass",
    "syrinx",
    "epidural_collection",
)

#: Which input fields each leaf is read from (for "what would change this" messages).
LEAF_INPUTS: dict[str, tuple[str, ...]] = {
    **{
        name: (f"patient.history.{name}",)
        for name in (
            "cancer",
            "iv_drug_use",
            "immunosuppression",
            "bariatric_surgery",
            "prior_cervical_surgery",
            "spinal_radiotherapy",
            "optic_neuritis",
            "recent_trauma",
        )
    },
    "smoker": ("patient.smoker",),
    "psychiatric_comorbidity": ("patient.psychiatric_comorbidity",),
    "long_duration": ("patient.symptom_duration_months",),
    **{name: (f"symptoms.{name}",) for name in _SYMPTOM_FLAGS},
    "sphincter": ("symptoms.sphincter_change", "symptoms.sphincter_other_cause"),
    "tempo": ("symptoms.onset_tempo",),
    "hyperreflexia_arms": tuple(
        f"exam.reflexes.{name}.{side}" for name in _ARM_REFLEXES for side in ("left", "right")
    ),
    "hyperreflexia_legs": tuple(
        f"exam.reflexes.{name}.{side}" for name in _LEG_REFLEXES for side in ("left", "right")
    ),
    **{name: (f"exam.umn.{name}",) for name in _UMN_SIGNS},
    "new_umn_sign": ("exam.umn.new_since_last_visit",),
    "weakness": tuple(f"exam.strength.{m}.{side}" for m in _MYOTOMES for side in ("left", "right")),
    "gait_deviation": ("exam.coordination.gait_deviation",),
    "romberg_positive": ("exam.coordination.romberg_positive",),
    "sensory_level": ("exam.sensation.sensory_level",),
    "dermatomal_loss": ("exam.sensation.dermatomal_loss",),
    "stocking_glove_loss": ("exam.sensation.stocking_glove_loss",),
    "vibration_proprioception_loss": ("exam.sensation.vibration_proprioception_loss",),
    "dissociated_cape_loss": ("exam.sensation.dissociated_cape_loss",),
    "fasciculations_widespread": ("exam.fasciculations_widespread",),
    "tongue_signs": ("exam.tongue_signs",),
    "mjoa": ("mjoa",),
    "earlier_mjoa": ("earlier_mjoa",),
    "compression": ("mri.available", "mri.levels.*.kang", "mri.unlisted_levels_normal"),
    "high_cervical_compression": ("mri.levels.C2-C3/C3-C4/C4-C5.kang",),
    "thoracic_compression": ("mri.thoracic_cord_compression",),
    "t1_hypointensity": ("mri.levels.*.t1_hypointensity",),
    "t2_signal_any": ("mri.levels.*.t2_signal",),
    "multisegment_sharp_t2": ("mri.levels.*.t2_signal", "mri.levels.*.t2_extent_segments"),
    "snake_eyes": ("mri.levels.*.snake_eyes",),
    "k_line_negative": ("mri.k_line",),
    **{name: (f"mri.{name}",) for name in _MRI_FLAGS},
    "edx": ("electro.summary",),
    "sep_mep_abnormal": ("electro.sep_mep_abnormal",),
}


# --- the derivation as steps ----------------------------------------------------------------
#
# Leaves and facts are derived by small pure functions, each with its inputs named: a field
# of the findings (``$patient.age_years``; a section, like ``$mjoa`` or ``$mri.levels.C5-C6``,
# reads as True when present and None when absent), the assessment date (``$on``), or a leaf
# or fact derived before. :func:`observe` and :func:`combine` run the steps on one case. The
# batch path (:mod:`myelo_cds.batch._columnar`) runs the very same functions once per distinct
# combination of their inputs over a whole column of cases, so the two cannot disagree.

ON = "$on"
"""The input name of the assessment date."""


@dataclass(frozen=True, slots=True)
class Step:
    """``outputs`` computed from ``inputs`` by ``fn(params, *values)``.

    ``fn`` returns the one output's value, or a tuple with one value per output. A step
    without ``fn`` passes its single input on unchanged.
    """

    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    fn: Callable[..., Any] | None = None


def _same(name: str, path: str) -> Step:
    return Step((name,), (path,))


def _max_grade(values: Iterable[int | None], threshold: int) -> Tri:
    """True if any grade reaches the threshold, False if all are known and below it."""
    return any3(None if value is None else value >= threshold for value in values)


_ALL_LEVELS: tuple[CervicalLevel, ...] = tuple(CervicalLevel)


@cache
def _levels(names: tuple[str, ...] | None) -> tuple[CervicalLevel, ...]:
    return tuple(CervicalLevel(name) for name in names) if names else _ALL_LEVELS


def _management(p: Params, management: Management, since: dt.date | None, on: dt.date) -> str:
    if management is Management.postoperative:
        return "postoperative"
    if management is Management.supervised_rehabilitation:
        assert since is not None  # enforced by the Patient model
        return "rehab_trial_complete" if add_months(since, p["rehab_trial_months"]) <= on else "rehab_early"
    return "untreated"


def _long_duration(p: Params, duration: float | None) -> Tri:
    return None if duration is None else duration >= p["long_duration_months"]


def _paediatric(p: Params, age: int) -> bool:
    return bool(age < p["adult_min_age"])


def _reflex_grades(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"$exam.reflexes.{name}.{side}" for name in names for side in ("left", "right"))


def _hyperreflexia(p: Params, *grades: int | None) -> Tri:
    return _max_grade(grades, p["hyperreflexia_min_grade"])


def _weakness(p: Params, *grades: int | None) -> Tri:
    return any3(None if g is None else g < 5 for g in grades)


def _mjoa_leaves(
    p: Params,
    present: Tri,
    ue_motor: int,
    le_motor: int,
    ue_sensation: int,
    sphincter: int,
    not_due: frozenset[MJOAItem],
) -> tuple[int | None, int | None, Tri]:
    """mJOA totals only; bands and change are derived later from the scale data."""
    if present is None:
        return None, None, None
    scores = {
        "ue_motor": ue_motor,
        "le_motor": le_motor,
        "ue_sensation": ue_sensation,
        "sphincter": sphincter,
    }
    maxima = {item["id"]: item["max"] for item in mjoa_scale()["items"]}
    deficits = {item for item in MJOAItem if scores[item.value] < maxima[item.value]}
    total = ue_motor + le_motor + ue_sensation + sphincter
    # Severity is graded on the deficits the clinician attributes to myelopathy: an item
    # marked "not due to myelopathy" counts as normal (design; clinical reference s1.1).
    severity = sum(maxima[item.value] if item in not_due else scores[item.value] for item in MJOAItem)
    return total, severity, bool(deficits & not_due)


def _earlier_total(
    p: Params, present: Tri, ue_motor: int | None, le_motor: int, ue_sensation: int, sphincter: int
) -> int | None:
    if present is None:
        return None
    return ue_motor + le_motor + ue_sensation + sphincter  # type: ignore[operator]


def _mjoa_delta(p: Params, total: int | None, before: int | None) -> int | None:
    return None if total is None or before is None else total - before


def _mjoa_days(p: Params, mjoa: Tri, earlier: dt.date | None, on: dt.date) -> int | None:
    if mjoa is None or earlier is None:
        return None
    days = (on - earlier).days
    # An assessment dated before the earlier score cannot time a decline: unknown, not 0.
    return days if days >= 0 else None


def _level_leaves(
    p: Params,
    listed: Tri,
    unlisted_normal: Tri,
    kang: int | None,
    t2_signal: T2Signal | None,
    t2_extent: int | None,
    t1_hypointensity: Tri,
    snake_eyes: Tri,
) -> tuple[Tri, ...]:
    """What one cervical level shows (three-valued), in the order of ``_LEVEL_LEAVES``.

    A level not listed counts as normal only if the reader said so
    (``mri.unlisted_levels_normal``); otherwise it is unknown.
    """
    if listed is None:
        unlisted: Tri = False if unlisted_normal else None
        return (unlisted,) * len(_LEVEL_LEAVES)
    sharp = None if t2_signal is None else t2_signal is T2Signal.sharp
    extent = None if t2_extent is None else t2_extent >= p["multisegment_min_segments"]
    return (
        None if kang is None else kang >= p["compression_min_kang"],
        t1_hypointensity,
        None if t2_signal is None else t2_signal is not T2Signal.none,
        all3((sharp, extent)),
        snake_eyes,
    )


_LEVEL_LEAVES = ("compression", "t1_hypointensity", "t2_signal_any", "multisegment_sharp_t2", "snake_eyes")
# Cord signal leaves true when any cervical level shows them (unknown without an MRI).
_ANY_LEVEL_SIGNALS = ("t1_hypointensity", "t2_signal_any", "multisegment_sharp_t2", "snake_eyes")


def _level_step(level: CervicalLevel) -> Step:
    base = f"$mri.levels.{level.value}"
    return Step(
        tuple(f"{level.value}:{name}" for name in _LEVEL_LEAVES),
        (
            base,
            "$mri.unlisted_levels_normal",
            *(f"{base}.{name}" for name in ("kang", "t2_signal", "t2_extent_segments")),
            *(f"{base}.{name}" for name in ("t1_hypointensity", "snake_eyes")),
        ),
        _level_leaves,
    )


def _per_level(name: str) -> tuple[str, ...]:
    """The inputs of a leaf read across levels: whether there is a scan, then each level's value."""
    return ("$mri.available", *(f"{level.value}:{name}" for level in _ALL_LEVELS))


def _any_level(p: Params, available: bool, *graded: Tri) -> Tri:
    """Any cervical level (in ``_ALL_LEVELS`` order) shows it; unknown without an MRI."""
    return any3(graded) if available else None


def _high_cervical(p: Params, available: bool, *graded: Tri) -> Tri:
    if not available:
        return None
    high = set(_levels(tuple(p["high_cervical_levels"])))
    return any3(value for level, value in zip(_ALL_LEVELS, graded, strict=True) if level in high)


def _if_scanned(p: Params, available: bool, value: Tri) -> Tri:
    return value if available else None


def _k_line_negative(p: Params, k_line: KLine | None) -> Tri:
    return None if k_line is None else k_line is KLine.negative


def _history_steps() -> list[Step]:
    return [_same(name, f"$patient.history.{name}") for name in History.model_fields]


LEAF_STEPS: tuple[Step, ...] = (
    *_history_steps(),
    _same("smoker", "$patient.smoker"),
    _same("psychiatric_comorbidity", "$patient.psychiatric_comorbidity"),
    Step(("long_duration",), ("$patient.symptom_duration_months",), _long_duration),
    Step(("paediatric",), ("$patient.age_years",), _paediatric),
    Step(("management",), ("$patient.management", "$patient.management_since", ON), _management),
    *(_same(name, f"$symptoms.{name}") for name in _SYMPTOM_FLAGS),
    _same("sphincter", "$symptoms.sphincter_change"),
    _same("sphincter_other_cause", "$symptoms.sphincter_other_cause"),
    _same("tempo", "$symptoms.onset_tempo"),
    Step(("hyperreflexia_arms",), _reflex_grades(_ARM_REFLEXES), _hyperreflexia),
    Step(("hyperreflexia_legs",), _reflex_grades(_LEG_REFLEXES), _hyperreflexia),
    *(_same(name, f"$exam.umn.{name}") for name in _UMN_SIGNS),
    _same("new_umn_sign", "$exam.umn.new_since_last_visit"),
    Step(
        ("weakness",),
        tuple(f"$exam.strength.{m}.{side}" for m in _MYOTOMES for side in ("left", "right")),
        _weakness,
    ),
    _same("gait_deviation", "$exam.coordination.gait_deviation"),
    _same("romberg_positive", "$exam.coordination.romberg_positive"),
    _same("sensory_level", "$exam.sensation.sensory_level"),
    *(
        _same(name, f"$exam.sensation.{name}")
        for name in (
            "dermatomal_loss",
            "stocking_glove_loss",
            "vibration_proprioception_loss",
            "dissociated_cape_loss",
        )
    ),
    _same("fasciculations_widespread", "$exam.fasciculations_widespread"),
    _same("tongue_signs", "$exam.tongue_signs"),
    Step(
        ("mjoa_total", "mjoa_severity_total", "mjoa_not_attributed"),
        ("$mjoa", *(f"$mjoa.{item.value}" for item in MJOAItem), "$mjoa.not_due_to_myelopathy"),
        _mjoa_leaves,
    ),
    Step(
        ("earlier_mjoa_total",),
        ("$earlier_mjoa", *(f"$earlier_mjoa.{item.value}" for item in MJOAItem)),
        _earlier_total,
    ),
    Step(("mjoa_delta",), ("mjoa_total", "earlier_mjoa_total"), _mjoa_delta),
    Step(("mjoa_days",), ("$mjoa", "$earlier_mjoa.date", ON), _mjoa_days),
    *(_level_step(level) for level in _ALL_LEVELS),
    Step(("compression",), _per_level("compression"), _any_level),
    Step(("high_cervical_compression",), _per_level("compression"), _high_cervical),
    Step(("thoracic_compression",), ("$mri.available", "$mri.thoracic_cord_compression"), _if_scanned),
    *(Step((name,), _per_level(name), _any_level) for name in _ANY_LEVEL_SIGNALS),
    Step(("k_line_negative",), ("$mri.k_line",), _k_line_negative),
    *(Step((name,), ("$mri.available", f"$mri.{name}"), _if_scanned) for name in _MRI_FLAGS),
    _same("edx", "$electro.summary"),
    _same("sep_mep_abnormal", "$electro.sep_mep_abnormal"),
)

#: The leaves :func:`observe` returns (the working values of the steps are left out).
LEAF_NAMES: tuple[str, ...] = tuple(
    name for step in LEAF_STEPS for name in step.outputs if name != "earlier_mjoa_total" and ":" not in name
)

#: Every findings field (or section) the leaves read, as a ``$`` input name.
INPUT_PATHS: tuple[str, ...] = tuple(
    dict.fromkeys(name for step in LEAF_STEPS for name in step.inputs if name.startswith("$") and name != ON)
)


Program = Callable[[dict[str, Any], Params], None]


def _compile(steps: Iterable[Step]) -> Program:
    """The steps as one straight-line Python function ``run(values, params)``.

    Each step becomes one line, ``values["out"] = fn(params, values["in"], ...)``: the same
    calls in the same order as looping over the steps, without the loop's overhead per step
    (this runs for every assessment, and many times over for its counterfactuals). Names are
    written as string literals (``repr``), and the functions are passed in by name.
    """
    namespace: dict[str, Any] = {}
    lines = ["def run(values, params):"]
    for number, step in enumerate(steps):
        args = ", ".join(f"values[{name!r}]" for name in step.inputs)
        targets = ", ".join(f"values[{name!r}]" for name in step.outputs)
        if step.fn is None:
            lines.append(f"    {targets} = {args}")
            continue
        namespace[f"step{number}"] = step.fn
        call = f"step{number}(params, {args})"
        lines.append(f"    {targets} = {call}" if len(step.outputs) == 1 else f"    ({targets},) = {call}")
    lines.append("    return None")
    exec(compile("\n".join(lines), f"<fact steps {len(lines) - 2}>", "exec"), namespace)
    run: Program = namespace["run"]
    return run


def _run(program: Program, values: dict[str, Any], params: Params) -> None:
    """Run compiled steps in order on one case, adding their outputs to ``values``."""
    program(values, params)


def _optional_prefix(parts: list[str]) -> int | None:
    """How many parts name the first section of the path that may be absent (None: none may).

    An optional model (``mjoa``) may be absent, and so may an entry of a mapping of models
    (``mri.levels.C5-C6``).
    """
    model: Any = Findings
    for position, part in enumerate(parts):
        held, mapping, optional = field_model(model.model_fields[part].annotation)
        if mapping:
            return position + 2
        if held is None:
            return None
        if optional:
            return position + 1
        model = held
    return None


def _is_mapping(parts: list[str]) -> bool:
    """The parts name a mapping of models (``mri.levels``)."""
    model: Any = Findings
    mapping = False
    for part in parts:
        model, mapping, _ = field_model(model.model_fields[part].annotation)
    return mapping


def _compile_reader(paths: Iterable[str]) -> Callable[[Findings], dict[str, Any]]:
    """One straight-line function reading every ``$`` input of ``paths`` from findings.

    Each section is read once into a local variable. A field inside a section that may be
    absent (``mjoa``, an MRI level) reads as None when it is; the section itself reads as True
    when present and None when absent. Names are written as string literals (``repr``).
    """
    lines = ["def read(findings):", "    values = {}"]
    variables = {"": "findings"}

    def variable(path: str) -> str:
        if path not in variables:
            parent, _, name = path.rpartition(".")
            owner = variable(parent)
            variables[path] = f"s{len(variables)}"
            if parent and _is_mapping(parent.split(".")):
                lines.append(f"    {variables[path]} = {owner}.get({name!r})")
            else:
                assert name.isidentifier()
                lines.append(f"    {variables[path]} = {owner}.{name}")
        return variables[path]

    optional: dict[str, list[tuple[str, str | None]]] = {}
    for name in paths:
        parts = name[1:].split(".")
        cut = _optional_prefix(parts)
        if cut is None:
            parent, _, field_name = name[1:].rpartition(".")
            lines.append(f"    values[{name!r}] = {variable(parent)}.{field_name}")
        else:
            rest = ".".join(parts[cut:])
            optional.setdefault(".".join(parts[:cut]), []).append((name, rest or None))
    for section, fields in optional.items():
        local = variable(section)
        lines.append(f"    if {local} is None:")
        lines.extend(f"        values[{name!r}] = None" for name, _ in fields)
        lines.append("    else:")
        lines.extend(
            f"        values[{name!r}] = " + (f"{local}.{rest}" if rest else "True") for name, rest in fields
        )
    lines.append("    return values")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<findings reader>", "exec"), namespace)
    read: Callable[[Findings], dict[str, Any]] = namespace["read"]
    return read


_read_all = _compile_reader(INPUT_PATHS)


_LEAF_PROGRAM = _compile(LEAF_STEPS)


def observe(findings: Findings, params: Mapping[str, Any], on: dt.date) -> Leaves:
    """Read the findings once into leaves (see :data:`LEAF_INPUTS`)."""
    values = _read_all(findings)
    values[ON] = on
    _run(_LEAF_PROGRAM, values, params)
    return {name: values[name] for name in LEAF_NAMES}


# --- composite facts and features ---------------------------------------------------------


def _tempo_facts(p: Params, tempo: OnsetTempo | None) -> tuple[Tri, Tri, Tri, Tri]:
    if tempo is None:
        return None, None, None, None
    return (
        tempo is OnsetTempo.hyperacute,
        tempo in (OnsetTempo.hyperacute, OnsetTempo.acute),
        tempo is OnsetTempo.subacute,
        tempo is not OnsetTempo.chronic,
    )


_EDX = {
    "edx_radiculopathy": EdxSummary.radiculopathy,
    "edx_neuropathy": EdxSummary.neuropathy,
    "edx_carpal_tunnel": EdxSummary.carpal_tunnel,
    "edx_anterior_horn": EdxSummary.widespread_anterior_horn,
}


def _edx_facts(p: Params, summary: EdxSummary | None) -> tuple[Tri, ...]:
    return tuple(None if summary is None else summary is value for value in _EDX.values())


def _sphincter_facts(p: Params, change: SphincterChange | None, other_cause: Tri) -> tuple[Tri, Tri]:
    if change is None:
        return None, None
    # A change counts for the cord unless the clinician attributes it to another cause.
    cord = other_cause is not True
    return change is not SphincterChange.none and cord, change is SphincterChange.new_acute and cord


def _sensory_level_facts(p: Params, level: SensoryLevel | None) -> tuple[Tri, Tri]:
    if level is None:
        return None, None
    return level is not SensoryLevel.none, level is SensoryLevel.thoracic


def _any(p: Params, *values: Tri) -> Tri:
    return any3(values)


def _all(p: Params, *values: Tri) -> Tri:
    return all3(values)


def _any_of(name: str, *inputs: str) -> Step:
    return Step((name,), inputs, _any)


def _all_of(name: str, *inputs: str) -> Step:
    return Step((name,), inputs, _all)


def _tri(value: Tri) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _feature_tri(p: Params, value: Tri) -> str:
    return _tri(value)


# For a change of band, 18 counts as mild: the guideline bands stop at 17 and rule R7 treats
# mJOA 18 with myelopathic signs as mild, so 18 -> 17 is a 1-point fall within the mild band
# ("possible deterioration"), not a change of band (clinical reference s1.2, s2.2).
_CHANGE_RANK = {"normal": 1, "mild": 1, "moderate": 2, "severe": 3}


def _course(p: Params, delta: int | None, total: int | None, new_umn_sign: Tri) -> str:
    if delta is None or total is None:
        drop: Tri = None
        band_worse: Tri = None
    else:
        drop = delta <= -p["deterioration_drop_points"]
        band_worse = _CHANGE_RANK[severity_band(total)] > _CHANGE_RANK[severity_band(total - delta)]
    if any3((drop, band_worse, new_umn_sign)) is True:
        return "deteriorated"
    if delta is None or total is None:
        return "unknown"
    if delta == -1:
        return "possible_deterioration"
    mcid = int(mjoa_scale()["mcid"][severity_band(total - delta)])
    return "not_improved" if delta < mcid else "improved"


def _deficit_attributed(p: Params, severity_total: int | None) -> Tri:
    return None if severity_total is None else severity_total < 18


def _myelopathy(p: Params, symptom: Tri, umn_sign: Tri, deficit_attributed: Tri) -> Tri:
    # Design definition (clinical reference, decision logic summary): a myelopathic symptom
    # with an objective sign, or an mJOA deficit the clinician attributes to myelopathy.
    return any3((all3((symptom, umn_sign)), deficit_attributed))


def _leg_only_umn(p: Params, arms: Tri, hoffmann: Tri, inverted: Tri, escape: Tri, *legs: Tri) -> Tri:
    return all3((any3(legs), not3(any3((arms, hoffmann, inverted, escape)))))


def _and_not(p: Params, value: Tri, other: Tri) -> Tri:
    return all3((value, not3(other)))


def _very_severe(p: Params, total: int | None) -> Tri:
    return None if total is None else total <= mjoa_scale()["very_severe"]["max"]


def _mjoa_18_with_myelopathy(p: Params, severity: int | None, myelopathy: Tri) -> Tri:
    return all3((None if severity is None else severity == 18, myelopathy))


def _rapid_decline(p: Params, delta: int | None, days: int | None) -> Tri:
    if delta is None:
        return None
    fell = delta <= -p["rapid_decline_points"]
    within = None if days is None else days <= p["rapid_decline_window_days"]
    return all3((fell, within))


def _is_possible_deterioration(p: Params, course: str) -> bool:
    return course == "possible_deterioration"


def _scope(p: Params, paediatric: bool) -> str:
    return "paediatric" if paediatric else "adult"


def _band(p: Params, severity: int | None) -> str:
    return "unknown" if severity is None else severity_band(severity)


FACT_STEPS: tuple[Step, ...] = (
    Step(("mjoa_deficit_attributed",), ("mjoa_severity_total",), _deficit_attributed),
    Step(
        ("tempo_hyperacute", "tempo_acute_or_faster", "tempo_subacute", "tempo_not_chronic"),
        ("tempo",),
        _tempo_facts,
    ),
    Step(tuple(_EDX), ("edx",), _edx_facts),
    Step(
        ("sphincter_myelopathic", "sphincter_new_acute_cord"),
        ("sphincter", "sphincter_other_cause"),
        _sphincter_facts,
    ),
    Step(("sensory_level_any", "trunk_sensory_level"), ("sensory_level",), _sensory_level_facts),
    _any_of("hyperreflexia", "hyperreflexia_arms", "hyperreflexia_legs"),
    _any_of(
        "myelopathic_symptom",
        "hand_clumsiness",
        "gait_imbalance",
        "falls",
        "nondermatomal_numbness",
        "sphincter_myelopathic",
    ),
    # Every upper motor neuron sign but a brisk jaw jerk, which points above the cervical cord
    # (an alternative diagnosis, below).
    _any_of("umn_sign", "hyperreflexia", *(sign for sign in _UMN_SIGNS if sign != "jaw_jerk_brisk")),
    Step(("myelopathy",), ("myelopathic_symptom", "umn_sign", "mjoa_deficit_attributed"), _myelopathy),
    _any_of(
        "neuro_deficit", "myelopathy", "myelopathic_symptom", "umn_sign", "weakness", "sensory_level_any"
    ),
    _any_of("infection_risk", "iv_drug_use", "immunosuppression"),
    _any_of(
        "radiculopathy", "radicular_arm_pain", "dermatomal_numbness", "dermatomal_loss", "edx_radiculopathy"
    ),
    _any_of(
        "alternative",
        "fasciculations_widespread",
        "tongue_signs",
        "jaw_jerk_brisk",
        "optic_neuritis",
        "edx_anterior_horn",
    ),
    _any_of(
        "atypical_lesion",
        "longitudinally_extensive_lesion",
        "dorsal_column_signal",
        "intramedullary_mass",
        "syrinx",
        "epidural_collection",
    ),
    _any_of("discordant", "trunk_sensory_level", "thoracic_compression"),
    Step(
        ("leg_only_umn",),
        (
            "hyperreflexia_arms",
            "hoffmann_tromner",
            "inverted_brachioradialis",
            "finger_escape",
            "hyperreflexia_legs",
            "babinski",
            "sustained_clonus",
        ),
        _leg_only_umn,
    ),
    _all_of("sensory_ataxia", "romberg_positive", "vibration_proprioception_loss"),
    Step(("lhermitte_without_compression",), ("lhermitte", "compression"), _and_not),
    Step(("compression_without_myelopathy",), ("compression", "myelopathy"), _and_not),
    _any_of("gait_impairment", "gait_deviation", "gait_imbalance"),
    Step(("very_severe",), ("mjoa_total",), _very_severe),
    Step(("mjoa_18_with_myelopathy",), ("mjoa_severity_total", "myelopathy"), _mjoa_18_with_myelopathy),
    Step(("rapid_mjoa_decline",), ("mjoa_delta", "mjoa_days"), _rapid_decline),
    Step(("features.course",), ("mjoa_delta", "mjoa_total", "new_umn_sign"), _course),
    Step(("possible_deterioration",), ("features.course",), _is_possible_deterioration),
    Step(("features.scope",), ("paediatric",), _scope),
    _same("features.management", "management"),
    Step(("features.compression",), ("compression",), _feature_tri),
    Step(("features.myelopathy",), ("myelopathy",), _feature_tri),
    Step(("features.band",), ("mjoa_severity_total",), _band),
    *(
        Step((f"features.{name}",), (name,), _feature_tri)
        for name in ("radiculopathy", "alternative", "atypical_lesion", "discordant")
    ),
)

#: The decision-table features :func:`combine` derives (all but ``red_flag``), in its order.
DERIVED_FEATURES: tuple[str, ...] = (
    "scope",
    "management",
    "compression",
    "myelopathy",
    "band",
    "course",
    "radiculopathy",
    "alternative",
    "atypical_lesion",
    "discordant",
)


_FACT_PROGRAM = _compile(FACT_STEPS)


def combine(leaves: Leaves, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every fact (leaves included) and the decision-table features, from the leaves alone."""
    values: dict[str, Any] = dict(leaves)
    _run(_FACT_PROGRAM, values, params)
    features = {name: values.pop(f"features.{name}") for name in DERIVED_FEATURES}
    values["features"] = features
    return values


def known_fact_names(params: Mapping[str, Any]) -> set[str]:
    """Every fact name :func:`combine` produces (the vocabulary the screen tables may use)."""
    from myelo_cds.findings import Patient

    blank = Findings(patient=Patient(age_years=50))
    facts = combine(observe(blank, params, dt.date(2000, 1, 1)), params)
    return set(facts) - {"features"}
