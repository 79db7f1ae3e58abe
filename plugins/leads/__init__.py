"""Lead capture: web-to-lead forms, the lead processor, dedupe, assignment, stale reassignment."""
