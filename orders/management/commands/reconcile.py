"""Reconcile the ledger with the broker now (the same service the beat task runs)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from orders.reconcile import reconcile_run
from trading_site.audit import system_actor


class Command(BaseCommand):
    help = "Compare open orders, fills and positions with the broker; record discrepancies as alerts."

    def handle(self, *args, **options):
        with system_actor():
            report = reconcile_run()
        self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
