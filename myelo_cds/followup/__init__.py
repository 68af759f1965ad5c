"""Follow-up schedules: dated visits from the local protocol in ``data/protocols``."""

from myelo_cds.followup._schedule import FollowUpPlan, Visit, follow_up_schedule, load_protocol

__all__ = ["FollowUpPlan", "Visit", "follow_up_schedule", "load_protocol"]
