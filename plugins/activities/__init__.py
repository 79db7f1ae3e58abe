"""Activities: tasks, visits, calendar and reminders — the seller's day."""
