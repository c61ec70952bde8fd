"""manage.py create_user USERNAME --role viewer|operator|admin [--password-env VAR]"""

from __future__ import annotations

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from trading_site.accounts import user_create
from trading_site.audit import system_actor
from trading_site.lib.roles import ROLES


class Command(BaseCommand):
    help = "Create a console/API user with one role. The password comes from an env var or a prompt."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")

    def handle(self, *args, username: str, role: str, password_env: str | None, **options):
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"environment variable {password_env} is empty or not set")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("passwords do not match")
        try:
            with system_actor():
                user = user_create(actor=None, username=username, role=role, password=password)
        except ValidationError as exc:
            raise CommandError("password rejected: " + " ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"created {user.username} with role {role}"))
