"""Embedded-mode smoke run, executed by tests/test_embedded_mode.py in a fresh process.

SQLite file, filesystem Celery broker, file cache, simulated exchange: migrate, load the demo data,
buy and then sell through the gateway, and print what the ledger and the tax lots recorded as JSON.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_site.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("setup_demo", verbosity=0)

    from django.db import connection

    from orders.gateway import order_place
    from orders.models import Order, Position
    from orders.tasks import sim_tick
    from tax.models import RealizedGain
    from trading_site.audit import system_actor

    with system_actor():
        buy = order_place(symbol="AAPL", side="buy", qty="10", source="manual", reason="embedded smoke").order
        for _ in range(20):
            if Order.objects.get(pk=buy.pk).status == "filled":
                break
            sim_tick()
        sell = order_place(symbol="AAPL", side="sell", qty="4", source="manual", reason="embedded smoke").order
        for _ in range(20):
            if Order.objects.get(pk=sell.pk).status == "filled":
                break
            sim_tick()
    position = Position.objects.get(symbol="AAPL")
    gains = list(RealizedGain.objects.values_list("qty", "proceeds", "cost_basis", "gain_loss"))
    print(json.dumps({
        "vendor": connection.vendor,
        "buy": Order.objects.get(pk=buy.pk).status,
        "sell": Order.objects.get(pk=sell.pk).status,
        "position_qty": str(position.qty),
        "realized": [[str(v) for v in row] for row in gains],
    }))


if __name__ == "__main__":
    main()
