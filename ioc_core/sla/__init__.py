"""Service levels: working-time calendars, SLA targets and escalation (issue 5, in progress)."""
