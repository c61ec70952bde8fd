"""manage.py setup_demo — idempotent demo users (admin/operator/viewer) and demo data."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from trading_site.audit import system_actor
from trading_site.demo import DEMO_USERS, demo_password, demo_password_file, demo_setup


class Command(BaseCommand):
    help = "Create the demo users and load demo data (safe to re-run)."

    def handle(self, *args, **options):
        explicit = os.environ.get("DEMO_PASSWORD")
        password = demo_password(explicit)
        with system_actor():
            notes = demo_setup(password=password)
        for note in notes:
            self.stdout.write(f"  {note}")
        source = "from DEMO_PASSWORD" if explicit else f"generated, kept in {demo_password_file()}"
        if self.stdout.isatty():
            self.stdout.write(f"Demo logins: {', '.join(DEMO_USERS)} / password {password}  ({source})")
        else:  # a log file or CI output: say where the password is, not what it is
            where = "the DEMO_PASSWORD environment variable" if explicit else str(demo_password_file())
            self.stdout.write(f"Demo logins: {', '.join(DEMO_USERS)} / the demo password kept in {where}")
