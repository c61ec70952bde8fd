"""The TTL cache and the access audit around every backend."""

from __future__ import annotations

import logging

import pytest

from trading_site.models import ActionLog
from trading_site.secret_store import SecretNotFound, get_secret
from trading_site.secret_store.local import EnvSecretManager
from trading_site.secret_store.manager import CachedSecretManager, manager_install, secret_manager


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reads(name: str):
    return ActionLog.objects.filter(action="secret.read", object_id=name).order_by("id")


@pytest.mark.django_db
def test_vault_reads_are_cached_for_the_ttl_then_reread(use_secrets, vault_env, openbao):
    use_secrets("vault", **vault_env)
    clock = FakeMonotonic()
    manager = CachedSecretManager(secret_manager().backend, ttl=60, monotonic=clock)
    manager_install(manager)
    manager.backend.put_secret("ALPACA_API_KEY", "PKOLD")

    first = get_secret("ALPACA_API_KEY")
    manager.backend.put_secret("ALPACA_API_KEY", "PKNEW")  # written behind the cache's back
    clock.now += 59
    cached = get_secret("ALPACA_API_KEY")
    clock.now += 2
    reread = get_secret("ALPACA_API_KEY")

    assert (first, cached, reread) == ("PKOLD", "PKOLD", "PKNEW")
    assert _reads("ALPACA_API_KEY").count() == 2  # two backend reads, the hit wrote no row


@pytest.mark.django_db
def test_put_invalidates_the_cache_and_version_reads_bypass_it(use_secrets, vault_env):
    manager = use_secrets("vault", **vault_env)
    manager.put_secret("SECRET_KEY", "a" * 60)
    assert get_secret("SECRET_KEY") == "a" * 60

    version = manager.put_secret("SECRET_KEY", "b" * 60)

    assert version == "2"
    assert get_secret("SECRET_KEY") == "b" * 60
    assert get_secret("SECRET_KEY", version="1") == "a" * 60


@pytest.mark.django_db
def test_a_backend_read_is_audited_with_name_backend_and_caller_never_the_value(use_secrets, vault_env):
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("ALPACA_SECRET_KEY", "SKVALUE123")

    get_secret("ALPACA_SECRET_KEY")

    row = _reads("ALPACA_SECRET_KEY").get()
    assert row.object_type == "secret"
    assert row.actor.username == "system"
    assert row.data["backend"] == "vault"
    assert row.data["outcome"] == "read"
    assert row.data["caller"].startswith(f"{__name__}:test_a_backend_read_is_audited")
    assert "SKVALUE123" not in repr(row.__dict__)


@pytest.mark.django_db
def test_a_missing_secret_is_audited_as_such_and_raises(use_secrets, vault_env):
    use_secrets("vault", **vault_env)

    with pytest.raises(SecretNotFound) as error:
        get_secret("DATABASE_PASSWORD")

    assert error.value.backend == "vault"
    row = _reads("DATABASE_PASSWORD").get()
    assert row.data["outcome"] == "SecretNotFound"


@pytest.mark.django_db
def test_cache_hits_are_logged_at_debug_without_an_audit_row(use_secrets, vault_env, caplog):
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("ALPACA_API_KEY", "PKHIT")
    get_secret("ALPACA_API_KEY")

    with caplog.at_level(logging.DEBUG, logger="trading_site.secrets"):
        get_secret("ALPACA_API_KEY")

    assert _reads("ALPACA_API_KEY").count() == 1
    hits = [r for r in caplog.records if getattr(r, "secret_outcome", "") == "cached"]
    assert len(hits) == 1
    assert hits[0].secret_name == "ALPACA_API_KEY"
    assert hits[0].caller.startswith(__name__)


@pytest.mark.django_db
def test_env_backend_is_not_cached_but_audited_once_per_ttl_window(monkeypatch):
    clock = FakeMonotonic()
    manager = CachedSecretManager(EnvSecretManager(), ttl=300, monotonic=clock)
    monkeypatch.setenv("ALPACA_API_KEY", "PKENV1")

    first = manager.get_secret("ALPACA_API_KEY")
    monkeypatch.setenv("ALPACA_API_KEY", "PKENV2")
    second = manager.get_secret("ALPACA_API_KEY")
    rows_in_window = _reads("ALPACA_API_KEY").count()
    clock.now += 301
    manager.get_secret("ALPACA_API_KEY")

    assert (first, second) == ("PKENV1", "PKENV2")
    assert rows_in_window == 1
    assert _reads("ALPACA_API_KEY").count() == 2


@pytest.mark.django_db
def test_manager_follows_the_configured_backend(use_secrets, settings, tmp_path, monkeypatch):
    use_secrets("env", ALPACA_API_KEY="PKFROMENV")
    (tmp_path / "k").write_text("PKFROMFILE\n")
    monkeypatch.setenv("ALPACA_API_KEY_FILE", str(tmp_path / "k"))

    from_env = get_secret("ALPACA_API_KEY")
    settings.SECRETS_BACKEND = "file"
    from_file = get_secret("ALPACA_API_KEY")

    assert (from_env, from_file) == ("PKFROMENV", "PKFROMFILE")
    assert secret_manager().name == "file"


def test_before_apps_are_ready_reads_are_logged_only(monkeypatch, caplog):
    from trading_site.secret_store import manager as manager_module

    monkeypatch.setattr(manager_module, "_apps_ready", lambda: False)
    manager = CachedSecretManager(EnvSecretManager({"SECRET_KEY": "x" * 60}), ttl=300)

    with caplog.at_level(logging.INFO, logger="trading_site.secrets"):
        manager.get_secret("SECRET_KEY")  # no database access allowed in this test: it would raise

    assert [r.secret_outcome for r in caplog.records] == ["read"]
    manager_install(None)


@pytest.mark.django_db
def test_health_check_names_unreadable_required_secrets_only(use_secrets, vault_env, settings):
    from trading_site.secret_store.health import secrets_health

    settings.BROKER = "alpaca"
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("ALPACA_API_KEY", "PKHEALTH")

    unhealthy = secrets_health()
    manager.backend.put_secret("ALPACA_SECRET_KEY", "SKHEALTH")  # a miss is never cached
    healthy = secrets_health()
    settings.BROKER = "simulated"

    assert unhealthy == {"ok": False, "backend": "vault", "errors": {"ALPACA_SECRET_KEY": "SecretNotFound"}}
    assert healthy == {"ok": True, "backend": "vault"}
    assert "PKHEALTH" not in repr(unhealthy)
