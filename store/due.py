"""The SQL of the deadline an assignment row works toward now (models.machine's rule): the board's overdue marks
and the KPIs' overdue counts. A module of its own, so the cockpit's KPI store does without the board's."""

from __future__ import annotations

# The deadline assignment ``a`` works toward now: sign-off, arrival (site visits), feedback; NULL when none.
PENDING_DUE = (
    "CASE WHEN a.status = 'dispatched' THEN a.sign_due "
    "WHEN a.status = 'signed' AND a.onsite = 1 THEN a.arrive_due "
    "WHEN a.status IN ('signed', 'arrived') THEN a.feedback_due END"
)
