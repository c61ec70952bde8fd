"""Celery queue names. Workers in production can be split by queue; the embedded run consumes all."""

DEFAULT = "default"
ORDERS = "orders"  # gateway work, trade updates, reconciliation
TWAP = "twap"  # slice dispatch: short, latency-sensitive tasks
MARKET_DATA = "market_data"
RISK = "risk"
REPORTS = "reports"

ALL = (DEFAULT, ORDERS, TWAP, MARKET_DATA, RISK, REPORTS)
