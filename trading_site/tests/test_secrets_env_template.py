""".env.template lists every environment variable the code reads, and holds no secret value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / ".env.template"
SKIP_DIRS = {".venv", "var", "node_modules", "migrations", "tests", "bench", ".git"}
# env.str("X", ...), _env.int("X"), _decimal("X", ...), os.environ.get("X"), os.environ["X"], getenv("X"),
# and environ.get("X") on an injected mapping (metrics_config_from_env(environ=...)).
READ = re.compile(
    r"""(?:\benv\.(?:str|bool|int|float|list|json|url|db_url)\(\s*|\b_(?:int|float|decimal|positive_int|positive_float|str|bool)\(\s*|"""
    r"""\benviron\.get\(\s*|os\.environ\[\s*|getenv\(\s*)["']([A-Z][A-Z0-9_]+)["']"""
)
# Read by the code but deliberately not configuration: set by manage.py/wsgi/celery or by tools.
# PYTEST_XDIST_WORKER: set by pytest-xdist in its workers, read by the test settings.
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER"}
SECRETS = ("SECRET_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "DATABASE_PASSWORD", "VAULT_TOKEN", "VAULT_SECRET_ID")


def _template() -> dict[str, str]:
    entries = {}
    for line in TEMPLATE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(\S*)", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def _variables_read_by_the_code() -> set[str]:
    found = set()
    for path in REPO.rglob("*.py"):
        if SKIP_DIRS & set(path.relative_to(REPO).parts):
            continue
        found |= set(READ.findall(path.read_text(errors="replace")))
    return found - NOT_CONFIGURATION


@pytest.mark.slow
def test_every_variable_the_code_reads_is_in_the_template():
    listed = set(_template())

    missing = sorted(_variables_read_by_the_code() - listed)

    assert missing == [], f".env.template lacks {missing}"
    assert {"SECRETS_BACKEND", "VAULT_ADDR", "VAULT_ROLE_ID", "AWS_REGION", "BROKER", "DATABASE_URL"} <= listed
    # The scan sees reads through an injected mapping too, not only os.environ.
    assert {"METRICS_TOKEN", "METRICS_ALLOWED_NETWORKS"} <= _variables_read_by_the_code()


def test_the_template_has_no_secret_values():
    entries = _template()

    assert {name: entries[name] for name in SECRETS} == dict.fromkeys(SECRETS, "")
