"""The demo step run by ``make run`` (``manage.py setup_demo``): bundled data and one strategy of each kind.

Idempotent and fast on every start: the data load is skipped when the demo dataset is present, and
strategies are only created when missing (an operator's changes to them are kept).
"""

from __future__ import annotations

import time

from strategies import conf
from strategies.bundled import bundled_load, demo_loaded, demo_symbols
from strategies.models import Strategy
from strategies.services import strategy_create

DEMO_STRATEGIES: list[tuple[str, str, dict]] = [
    ("sma-crossover", "sma_crossover", {"fast": 20, "slow": 50}),
    ("momentum", "momentum", {"lookback": 126, "skip": 21, "top_n": 5}),
    ("mean-reversion", "mean_reversion", {"window": 20, "entry_z": 1.0}),
    (
        "ensemble",
        "ensemble",
        {
            "members": [
                {"kind": "sma_crossover", "parameters": {"fast": 50, "slow": 200}, "weight": 1.0},
                {"kind": "momentum", "parameters": {"lookback": 252, "skip": 21, "top_n": 8}, "weight": 1.0},
            ]
        },
    ),
]


def demo_data_setup() -> str:
    notes = []
    loaded = demo_loaded()
    if not conf.DEMO_DATA:
        notes.append("bundled data disabled (DEMO_DATA=false)")
    elif loaded:
        notes.append("bundled data present")
    else:
        started = time.monotonic()
        summaries = bundled_load(dataset="demo")
        loaded = True
        notes.append(f"loaded {sum(s.bars for s in summaries)} bars in {time.monotonic() - started:.1f} s")
    created = []
    if loaded:  # strategies need the demo universe's bars
        # one query for which demo strategies exist; the file header is only read when one is missing
        present = set(Strategy.objects.filter(name__in=[n for n, _, _ in DEMO_STRATEGIES]).values_list("name", flat=True))
        missing = [(name, kind, parameters) for name, kind, parameters in DEMO_STRATEGIES if name not in present]
        symbols = demo_symbols() if missing else []
        for name, kind, parameters in missing:
            strategy_create(actor=None, name=name, kind=kind, parameters=parameters, symbols=symbols, reason="demo set-up")
            created.append(name)
    notes.append(f"strategies created: {', '.join(created)}" if created else "strategies present")
    return "; ".join(notes)
