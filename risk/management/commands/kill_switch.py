"""``manage.py kill_switch engage|reset|status --reason ... [--user NAME] [--no-flatten]``.

Without ``--user`` the action is recorded as the system user (someone with shell access); with it,
that user's role is checked like in the console (engage: operator, reset: admin).
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from risk import selectors, services
from trading_site.lib.errors import DomainError


class Command(BaseCommand):
    help = "Engage, reset or show the kill switch."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["engage", "reset", "status"])
        parser.add_argument("--reason", default="", help="required for engage and reset")
        parser.add_argument("--user", default=None, help="act as this user (role checked)")
        parser.add_argument("--no-flatten", action="store_true", help="engage without flattening positions")

    def handle(self, *args, action: str, reason: str, user: str | None, no_flatten: bool, **options):
        if action == "status":
            self.stdout.write(json.dumps(selectors.kill_switch_status(), indent=2))
            return
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {user!r}")
        try:
            if action == "engage":
                result = services.kill_switch_engage(actor=actor, reason=reason, flatten=False if no_flatten else None)
                self.stdout.write(
                    f"kill switch ENGAGED ({'newly' if result.changed else 'already engaged'}); "
                    f"cancelled {result.cancelled} orders, {result.flatten_orders} flatten orders"
                )
                for error in result.errors:
                    self.stderr.write(f"unwind error: {error}")
                if result.errors:
                    raise CommandError("the kill switch is engaged but the unwind failed; see the alerts")
            else:
                services.kill_switch_reset(actor=actor, reason=reason)
                self.stdout.write("kill switch reset")
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
