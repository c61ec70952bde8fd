"""``manage.py preflight [--json]``: the live-trading readiness checklist; exit 1 if an automatic item fails."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from risk.preflight import FAIL, MANUAL, PASS, as_dicts, preflight_run

_MARK = {PASS: "PASS  ", FAIL: "FAIL  ", MANUAL: "MANUAL"}


class Command(BaseCommand):
    help = "Walk the live-trading readiness checklist (pass / fail / manual per item)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        items = preflight_run()
        failed = [i for i in items if i.status == FAIL]
        if options["json"]:
            self.stdout.write(json.dumps({"ok": not failed, "items": as_dicts(items)}, indent=2))
        else:
            section = None
            for item in items:
                if item.section != section:
                    section = item.section
                    self.stdout.write(f"\n{section}")
                self.stdout.write(f"  [{_MARK[item.status]}] {item.title}: {item.detail}")
            counts = {s: sum(i.status == s for i in items) for s in (PASS, FAIL, MANUAL)}
            self.stdout.write(f"\n{counts[PASS]} pass, {counts[FAIL]} fail, {counts[MANUAL]} manual")
        if failed:
            sys.exit(1)
