"""A test database built from the models (``make test-fast``: ``--no-migrations``) lacks nothing the
migrations' database work gives (tests/fresh_database.py)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import migrations

from risk.models import CircuitBreaker, KillSwitch, RiskLimits, RolloutPhase
from tests.fresh_database import DATABASE_STEPS, NOT_ON_A_FRESH_DATABASE, database_step


def _database_operations(operations):
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            yield from _database_operations(operation.database_operations)
        elif isinstance(operation, migrations.RunPython | migrations.RunSQL):
            yield operation


def _project_migrations():
    """(app label, migration name, Migration) of the project's apps, read from the files (the
    MIGRATION_MODULES of a --no-migrations run hide them from Django's loader)."""
    for config in apps.get_app_configs():
        path = Path(config.path)
        if not path.is_relative_to(settings.BASE_DIR) or "site-packages" in path.parts:
            continue  # Django's and the libraries' apps (a virtualenv may be inside the project)
        try:
            package = importlib.import_module(f"{config.name}.migrations")
        except ModuleNotFoundError:
            continue
        for module in pkgutil.iter_modules(package.__path__):
            migration = importlib.import_module(f"{package.__name__}.{module.name}").Migration
            yield config.label, module.name, migration


def test_every_database_operation_of_the_migrations_is_run_or_not_needed():
    found = set()
    for label, name, migration in _project_migrations():
        for operation in _database_operations(migration.operations):
            code = operation.code.__name__ if isinstance(operation, migrations.RunPython) else "RunSQL"
            found.add((label, name, code))
    assert len(found) >= 3  # the loader above found the migrations
    unclassified = found - set(DATABASE_STEPS) - NOT_ON_A_FRESH_DATABASE
    assert not unclassified, (
        "migration database work that a --no-migrations test database lacks: add it to "
        f"tests/fresh_database.py (DATABASE_STEPS, or NOT_ON_A_FRESH_DATABASE with the reason): {unclassified}"
    )
    assert set(DATABASE_STEPS) | NOT_ON_A_FRESH_DATABASE <= found  # no stale entry
    assert all(callable(database_step(*step)) for step in DATABASE_STEPS)


@pytest.mark.django_db
def test_the_test_database_has_the_rows_the_migrations_seed():
    assert list(RolloutPhase.objects.order_by("number").values_list("number", flat=True)) == [1, 2, 3, 4]
    assert RiskLimits.objects.filter(pk=1).exists() and KillSwitch.objects.filter(pk=1).exists()
    assert set(CircuitBreaker.objects.values_list("name", flat=True)) == {
        "daily_loss", "drawdown", "broker_errors", "stale_data"}
