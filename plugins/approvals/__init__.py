"""Approvals: requests on any record a plugin registers, approver rules, history, stage gates and discount approval."""
