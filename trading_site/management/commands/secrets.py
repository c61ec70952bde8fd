"""``manage.py secrets check|rotate|rollback`` — thin wrapper over trading_site.secret_store.

check     every secret the configuration needs, its source and whether it is present (never the
          value); exit status 1 if a required one is missing or unreadable.
rotate    NAME [NAME ...] [--from-env VAR [VAR ...]]: verify, write a new version, record the date.
          Without --from-env the new value is prompted for (twice, not echoed).
rollback  NAME: make the previous version current again.
"""

from __future__ import annotations

import getpass
import json
import os

from django.core.management.base import BaseCommand, CommandError

from trading_site.secret_store import SecretError
from trading_site.secret_store.manager import secret_manager
from trading_site.secret_store.requirements import secret_status_list
from trading_site.secret_store.rotation import secret_rollback, secret_rotate


class Command(BaseCommand):
    help = "Check, rotate or roll back the platform's secrets (values are never printed)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="list the secrets the configuration needs and whether they are present")
        check.add_argument("--json", action="store_true", help="machine-readable output")
        rotate = sub.add_parser("rotate", help="write, verify and record a new version")
        rotate.add_argument("names", nargs="+", metavar="NAME")
        rotate.add_argument(
            "--from-env", nargs="+", metavar="VAR", dest="from_env",
            help="read each new value from this environment variable (one per NAME, same order)",
        )
        rotate.add_argument("--reason", default="", help="recorded with the rotation")
        rollback = sub.add_parser("rollback", help="make the previous version current again")
        rollback.add_argument("name", metavar="NAME")
        rollback.add_argument("--reason", default="", help="recorded with the rollback")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "check":
            return self._check(as_json=options["json"])
        if action == "rotate":
            return self._rotate(options["names"], options["from_env"], options["reason"])
        return self._rollback(options["name"], options["reason"])

    def _check(self, *, as_json: bool) -> None:
        manager = secret_manager()
        rows = secret_status_list(manager=manager)
        failing = [r.name for r in rows if r.required and r.status != "present"]
        if as_json:
            self.stdout.write(json.dumps({"backend": manager.name, "ok": not failing, "secrets": [r.as_dict() for r in rows]}, indent=2))
        else:
            self.stdout.write(f"secrets backend: {manager.name}")
            header = ("NAME", "REQUIRED", "STATUS", "SOURCE", "VERSION", "LAST ROTATED")
            table = [header] + [
                (r.name, "yes" if r.required else "no", r.status + (f" ({r.problem})" if r.problem else ""),
                 r.source, r.version or "-", r.last_rotated or "never")
                for r in rows
            ]
            widths = [max(len(row[i]) for row in table) for i in range(len(header))]
            for row in table:
                self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if failing:
            raise CommandError(f"required secrets missing or unreadable in backend {manager.name!r}: {', '.join(failing)}")

    def _rotate(self, names: list[str], from_env: list[str] | None, reason: str) -> None:
        if len(set(names)) != len(names):
            raise CommandError("each NAME may be given once")
        if from_env is not None and len(from_env) != len(names):
            raise CommandError(f"--from-env needs one variable per NAME ({len(names)}), got {len(from_env)}")
        values = {}
        for index, name in enumerate(names):
            if from_env is not None:
                value = os.environ.get(from_env[index], "")
                if not value:
                    raise CommandError(f"environment variable {from_env[index]} (new value for {name}) is empty or not set")
            else:
                value = getpass.getpass(f"New value for {name}: ")
                if getpass.getpass(f"Repeat the new value for {name}: ") != value:
                    raise CommandError(f"the two values entered for {name} differ; nothing was changed")
            values[name] = value
        try:
            results = secret_rotate(values=values, reason=reason)
        except SecretError as exc:
            raise CommandError(f"rotation failed, nothing changed: {exc}") from None
        for result in results:
            self.stdout.write(
                f"rotated {result.name} in {result.backend}: version {result.version} is current "
                f"(previous {result.previous_version or 'none'}), verified by {result.verified_by}, "
                f"recorded {result.rotated_at.isoformat()}"
            )

    def _rollback(self, name: str, reason: str) -> None:
        try:
            result = secret_rollback(name=name, reason=reason)
        except SecretError as exc:
            raise CommandError(f"rollback failed: {exc}") from None
        self.stdout.write(
            f"rolled back {result.name} in {result.backend}: version {result.version} ({result.verified_by}) "
            f"replaces version {result.previous_version}"
        )
