"""The course of a patient: deterioration and failure to improve over stored visits, judged by
the rule set's own rules."""

from myelo_cds.course._course import CourseAlert, Timeline, course_alerts, timeline, with_earlier_visit

__all__ = ["CourseAlert", "Timeline", "course_alerts", "timeline", "with_earlier_visit"]
