"""Funnel analytics: stage funnel, conversion, dwell time, stalled deals, five numbers, targets."""
