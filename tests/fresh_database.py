"""A test database built from the models (``pytest --no-migrations``, ``make test-fast``) gets the
database work of the migrations that its schema lacks.

Building the schema from the models takes a fraction of a second; applying the migrations took about
4 s per process (each xdist worker builds its own database). The models give the tables, columns,
indexes and constraints (``makemigrations --check`` in ``make test`` holds them equal to the
migrations); what they do not give is what a migration does with ``RunPython``: the triggers that make
``orders_orderevent`` append-only and the rows risk seeds. Those run here, and they are the
migrations' own functions, imported from the migration modules, so there is one definition.

Every ``RunPython``/``RunSQL`` operation of the project's migrations is either in
:data:`DATABASE_STEPS` or in :data:`NOT_ON_A_FRESH_DATABASE` with the reason;
``tests/test_fresh_database.py`` fails on a new one that is in neither.
"""

from __future__ import annotations

import importlib

from django.apps import apps
from django.db import connections

# (app label, migration name, function name): run in this order on a database built from the models.
DATABASE_STEPS = (
    ("orders", "0002_orderevent_append_only", "forward"),  # UPDATE/DELETE on OrderEvent refused
    ("risk", "0002_defaults", "seed"),  # rollout phases, the limits, kill-switch and breaker rows
)

# Database work of a migration that a database built from the current models does not need.
NOT_ON_A_FRESH_DATABASE = {
    # Moved models' content types change app label; a new database has them under the new label.
    ("strategies", "0006_models_moved_to_marketdata_and_workflow", "content_types_move"),
}


def database_step(app_label: str, migration: str, function: str):
    return getattr(importlib.import_module(f"{app_label}.migrations.{migration}"), function)


def database_steps_run(alias: str = "default") -> None:
    """The migrations' database work on ``alias``, built from the models (the global app registry
    stands in for the migration's historical one: the models are the migrations' end state)."""
    with connections[alias].schema_editor() as schema_editor:
        for step in DATABASE_STEPS:
            database_step(*step)(apps, schema_editor)
