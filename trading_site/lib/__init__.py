"""Shared helpers used by every app: Decimal handling, the clock, queue names, roles."""
