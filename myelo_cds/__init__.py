"""myelo-cds: decision support for degenerative cervical myelopathy.

The public surface is re-exported here; everything else is internal.
"""

from myelo_cds.errors import MyeloCdsError
from myelo_cds.findings import Findings
from myelo_cds.followup import FollowUpPlan, follow_up_schedule
from myelo_cds.rules.engine import Engine, assess, default_engine
from myelo_cds.rules.result import Recommendation
from myelo_cds.rules.ruleset import RuleSet, RuleSetError, default_rule_set, load_rule_set

__all__ = [
    "Engine",
    "Findings",
    "FollowUpPlan",
    "MyeloCdsError",
    "Recommendation",
    "RuleSet",
    "RuleSetError",
    "assess",
    "default_engine",
    "default_rule_set",
    "follow_up_schedule",
    "load_rule_set",
]
__version__ = "0.1.0"
