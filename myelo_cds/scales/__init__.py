"""Clinical scales: mJOA, Nurick, MSCC and the Cook cluster, interpreted from ``data/scales``."""

from myelo_cds.scales._scores import (
    MSCC,
    Band,
    CookCluster,
    MJOAChange,
    MJOAScore,
    NurickGrade,
    ScaleRef,
    cook_cluster,
    mjoa_change,
    mjoa_max_total,
    mjoa_scale,
    mjoa_score,
    mscc,
    nurick_grade,
    severity_band,
)

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
