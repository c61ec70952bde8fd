"""Non-secret settings of the strategies app, read with the one typed reader (``trading_site.lib.env``).

- ``ALLOCATION_METHOD``: default allocator method (``rank_aggregation``).
- ``ALLOCATION_GROSS``: total weight the allocator distributes, as a fraction of equity (default 1.0).
- ``ALLOCATION_STRATEGY_CAP``: default per-strategy cap (0.40) for new strategies.
- ``CORRELATION_THRESHOLD`` (0.70) and ``CORRELATION_LOOKBACK`` (60 sessions) for ``check_correlation``.
"""

from __future__ import annotations

from decimal import Decimal

from trading_site.lib.env import env_decimal, env_enum, env_float, env_int

ALLOCATION_METHODS = ("rank_aggregation", "inverse_vol", "equal_weight")

ALLOCATION_METHOD = env_enum("ALLOCATION_METHOD", "rank_aggregation", ALLOCATION_METHODS, lower=False)
ALLOCATION_GROSS = env_decimal("ALLOCATION_GROSS", "1.0", low=Decimal(0), high=Decimal(4))
ALLOCATION_STRATEGY_CAP = env_decimal("ALLOCATION_STRATEGY_CAP", "0.40", low=Decimal(0), high=Decimal(1))
CORRELATION_THRESHOLD = env_float("CORRELATION_THRESHOLD", "0.70", low=-1, high=1)
CORRELATION_LOOKBACK = env_int("CORRELATION_LOOKBACK", 60, low=10, high=1000)
