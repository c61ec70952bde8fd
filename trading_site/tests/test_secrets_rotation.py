"""``manage.py secrets rotate|rollback|check`` against a real OpenBao (and moto) with a fake Alpaca."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import CommandError, call_command

from trading_site.models import ActionLog
from trading_site.secret_store import get_secret, secret_last_rotated

OLD_KEY, OLD_SECRET = "PKOLD0001", "SKOLD0001"
NEW_KEY, NEW_SECRET = "PKNEW0002", "SKNEW0002"
ROTATED_AT = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)


@pytest.fixture
def vault_with_alpaca_keys(use_secrets, vault_env, fake_alpaca, settings):
    settings.BROKER = "alpaca"
    manager = use_secrets("vault", ALPACA_BASE_URL=fake_alpaca.url, **vault_env)
    manager.backend.put_secret("ALPACA_API_KEY", OLD_KEY)
    manager.backend.put_secret("ALPACA_SECRET_KEY", OLD_SECRET)
    fake_alpaca.accept(OLD_KEY, OLD_SECRET)
    return manager


def _rotate(capsys, *args: str) -> str:
    call_command("secrets", "rotate", *args)
    return capsys.readouterr().out


@pytest.mark.django_db
def test_rotating_the_alpaca_pair_makes_the_new_version_live_and_keeps_the_old(
    vault_with_alpaca_keys, fake_alpaca, monkeypatch, capsys
):
    manager = vault_with_alpaca_keys
    fake_alpaca.accept(NEW_KEY, NEW_SECRET)
    monkeypatch.setenv("NEW_ALPACA_KEY", NEW_KEY)
    monkeypatch.setenv("NEW_ALPACA_SECRET", NEW_SECRET)
    assert get_secret("ALPACA_API_KEY") == OLD_KEY  # cached before the rotation

    with time_machine.travel(ROTATED_AT, tick=False):
        out = _rotate(capsys, "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "--from-env", "NEW_ALPACA_KEY", "NEW_ALPACA_SECRET",
                      "--reason", "quarterly")

    assert get_secret("ALPACA_API_KEY") == NEW_KEY
    assert get_secret("ALPACA_SECRET_KEY") == NEW_SECRET
    assert get_secret("ALPACA_API_KEY", version="1") == OLD_KEY
    assert get_secret("ALPACA_SECRET_KEY", version="1") == OLD_SECRET
    assert manager.current_version("ALPACA_API_KEY") == "2"
    assert secret_last_rotated("ALPACA_API_KEY") == ROTATED_AT
    assert secret_last_rotated("ALPACA_SECRET_KEY") == ROTATED_AT
    row = ActionLog.objects.get(action="secret.rotate", object_id="ALPACA_API_KEY")
    assert row.reason == "quarterly"
    assert {k: row.data[k] for k in ("backend", "version", "previous_version", "verified_by")} == {
        "backend": "vault", "version": "2", "previous_version": "1", "verified_by": "alpaca account call",
    }
    assert out.splitlines()[0] == (
        "rotated ALPACA_API_KEY in vault: version 2 is current (previous 1), verified by alpaca account call, "
        "recorded 2026-03-02T14:30:00+00:00"
    )
    assert ("GET", "/v2/account") in fake_alpaca.requests


@pytest.mark.django_db
def test_a_failed_verification_leaves_the_old_version_current(vault_with_alpaca_keys, monkeypatch):
    manager = vault_with_alpaca_keys
    monkeypatch.setenv("NEW_ALPACA_KEY", "PKREJECTED")
    monkeypatch.setenv("NEW_ALPACA_SECRET", "SKREJECTED")

    with pytest.raises(CommandError) as error:
        call_command("secrets", "rotate", "ALPACA_API_KEY", "ALPACA_SECRET_KEY",
                     "--from-env", "NEW_ALPACA_KEY", "NEW_ALPACA_SECRET")

    assert str(error.value) == (
        "rotation failed, nothing changed: secret 'ALPACA_API_KEY' in backend 'vault': "
        "Alpaca refused the key pair (HTTP 401)"
    )
    assert manager.current_version("ALPACA_API_KEY") == "1"
    assert manager.current_version("ALPACA_SECRET_KEY") == "1"
    assert get_secret("ALPACA_API_KEY") == OLD_KEY
    assert secret_last_rotated("ALPACA_API_KEY") is None
    assert ActionLog.objects.filter(action="secret.rotate_failed", object_id="ALPACA_API_KEY").count() == 1


@pytest.mark.django_db
def test_rotating_only_the_secret_verifies_it_with_the_current_key_id(vault_with_alpaca_keys, fake_alpaca, monkeypatch):
    manager = vault_with_alpaca_keys
    monkeypatch.setenv("NEW_SECRET", "SKPAIRED")

    with pytest.raises(CommandError, match=r"HTTP 401"):
        call_command("secrets", "rotate", "ALPACA_SECRET_KEY", "--from-env", "NEW_SECRET")
    fake_alpaca.accept(OLD_KEY, "SKPAIRED")
    call_command("secrets", "rotate", "ALPACA_SECRET_KEY", "--from-env", "NEW_SECRET")

    assert manager.current_version("ALPACA_SECRET_KEY") == "2"
    assert get_secret("ALPACA_SECRET_KEY") == "SKPAIRED"
    assert manager.current_version("ALPACA_API_KEY") == "1"


@pytest.mark.django_db
def test_rollback_makes_the_previous_value_current_as_a_new_version(vault_with_alpaca_keys, fake_alpaca, monkeypatch, capsys):
    manager = vault_with_alpaca_keys
    fake_alpaca.accept(NEW_KEY, OLD_SECRET)
    monkeypatch.setenv("NEW_ALPACA_KEY", NEW_KEY)
    call_command("secrets", "rotate", "ALPACA_API_KEY", "--from-env", "NEW_ALPACA_KEY")
    capsys.readouterr()

    call_command("secrets", "rollback", "ALPACA_API_KEY", "--reason", "new key broke the stream")

    assert get_secret("ALPACA_API_KEY") == OLD_KEY
    assert manager.current_version("ALPACA_API_KEY") == "3"
    assert capsys.readouterr().out.strip() == (
        "rolled back ALPACA_API_KEY in vault: version 3 (copy of version 1) replaces version 2"
    )
    row = ActionLog.objects.get(action="secret.rollback")
    assert (row.object_id, row.reason, row.data["restored_version"]) == ("ALPACA_API_KEY", "new key broke the stream", "1")


@pytest.mark.django_db
def test_rotating_secret_key_verifies_by_reading_back(use_secrets, vault_env, monkeypatch):
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("SECRET_KEY", "o" * 60)
    monkeypatch.setenv("NEW_DJANGO_KEY", "n" * 60)

    call_command("secrets", "rotate", "SECRET_KEY", "--from-env", "NEW_DJANGO_KEY")

    assert get_secret("SECRET_KEY") == "n" * 60
    assert ActionLog.objects.get(action="secret.rotate").data["verified_by"] == "read back"


@pytest.mark.django_db
def test_rotation_on_aws_moves_awsprevious_to_the_old_value(use_secrets, aws_env, monkeypatch):
    manager = use_secrets("aws", **aws_env)
    old_version = manager.backend.put_secret("SECRET_KEY", "o" * 60)
    monkeypatch.setenv("NEW_DJANGO_KEY", "n" * 60)

    call_command("secrets", "rotate", "SECRET_KEY", "--from-env", "NEW_DJANGO_KEY")

    assert get_secret("SECRET_KEY") == "n" * 60
    assert get_secret("SECRET_KEY", version="AWSPREVIOUS") == "o" * 60
    assert ActionLog.objects.get(action="secret.rotate").data["previous_version"] == old_version


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["SECRET_KEY", "--from-env", "UNSET_VAR"], {}, "environment variable UNSET_VAR (new value for SECRET_KEY) is empty or not set"),
        (["SECRET_KEY", "ALPACA_API_KEY", "--from-env", "A"], {"A": "x"}, "--from-env needs one variable per NAME (2), got 1"),
        (["SECRET_KEY", "SECRET_KEY", "--from-env", "A", "A"], {"A": "x"}, "each NAME may be given once"),
        (["lower_name", "--from-env", "A"], {"A": "x"}, "rotation failed, nothing changed: secret 'lower_name' in backend 'vault': invalid secret name"),
        (["SECRET_KEY", "--from-env", "A"], {"A": " padded "}, "rotation failed, nothing changed: secret 'SECRET_KEY' in backend 'vault': the new value has leading or trailing whitespace"),
    ],
)
def test_bad_rotate_input_is_refused_and_changes_nothing(use_secrets, vault_env, monkeypatch, args, env, message):
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("SECRET_KEY", "o" * 60)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(CommandError) as error:
        call_command("secrets", "rotate", *args)

    assert str(error.value).startswith(message)
    assert manager.current_version("SECRET_KEY") == "1"
    assert not ActionLog.objects.filter(action="secret.rotate").exists()


@pytest.mark.django_db
def test_rotate_refuses_backends_without_versions(use_secrets, monkeypatch):
    use_secrets("env", SECRET_KEY="o" * 60)
    monkeypatch.setenv("NEW_DJANGO_KEY", "n" * 60)

    with pytest.raises(CommandError, match="this backend keeps no versions; rotate at the source"):
        call_command("secrets", "rotate", "SECRET_KEY", "--from-env", "NEW_DJANGO_KEY")
    assert get_secret("SECRET_KEY") == "o" * 60


@pytest.mark.django_db
def test_rotate_prompts_twice_and_refuses_a_mismatch(use_secrets, vault_env, monkeypatch):
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("SECRET_KEY", "o" * 60)
    answers = iter(["n" * 60, "m" * 60])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))

    with pytest.raises(CommandError, match="the two values entered for SECRET_KEY differ; nothing was changed"):
        call_command("secrets", "rotate", "SECRET_KEY")
    assert manager.current_version("SECRET_KEY") == "1"


# --- check ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_check_lists_sources_and_fails_when_a_required_secret_is_missing(use_secrets, vault_env, settings, capsys):
    settings.BROKER = "alpaca"
    manager = use_secrets("vault", **vault_env)
    manager.backend.put_secret("ALPACA_API_KEY", OLD_KEY)
    prefix = vault_env["VAULT_PATH_PREFIX"]

    with pytest.raises(CommandError) as error:
        call_command("secrets", "check")
    out = capsys.readouterr().out

    assert str(error.value) == "required secrets missing or unreadable in backend 'vault': ALPACA_SECRET_KEY"
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[0] == "secrets backend: vault"
    assert lines[1] == "NAME REQUIRED STATUS SOURCE VERSION LAST ROTATED"
    assert lines[2] == f"SECRET_KEY no missing (not found at vault secret/{prefix}/SECRET_KEY) vault secret/{prefix}/SECRET_KEY - never"
    assert lines[3] == f"ALPACA_API_KEY yes present vault secret/{prefix}/ALPACA_API_KEY 1 never"
    assert lines[4].startswith("ALPACA_SECRET_KEY yes missing")
    assert OLD_KEY not in out


@pytest.mark.django_db
def test_check_json_passes_when_everything_required_is_present(use_secrets, monkeypatch, settings, capsys):
    settings.BROKER = "simulated"
    use_secrets("env", SECRET_KEY="s" * 60)

    call_command("secrets", "check", "--json")
    report = json.loads(capsys.readouterr().out)

    assert report["backend"] == "env"
    assert report["ok"] is True
    assert {row["name"]: (row["required"], row["status"]) for row in report["secrets"]} == {
        "SECRET_KEY": (False, "present"),
        "ALPACA_API_KEY": (False, "missing"),
        "ALPACA_SECRET_KEY": (False, "missing"),
        "DATABASE_PASSWORD": (False, "missing"),
    }
    assert report["secrets"][0]["source"] == "env SECRET_KEY"


@pytest.mark.django_db
@pytest.mark.parametrize("backend", ["vault", "aws"])
def test_a_concurrent_write_during_rotation_wins_and_the_rotation_writes_nothing(use_secrets, vault_env, aws_env, backend):
    manager = use_secrets(backend, **(vault_env if backend == "vault" else aws_env))
    manager.backend.put_secret("SECRET_KEY", "o" * 60)

    def verify_while_someone_else_writes(values, mgr):
        mgr.backend.put_secret("SECRET_KEY", "c" * 60)  # another operator, between our read and write
        return {"SECRET_KEY": "read back"}

    from trading_site.secret_store import SecretConflict
    from trading_site.secret_store.rotation import secret_rotate

    with pytest.raises(SecretConflict, match="changed concurrently"):
        secret_rotate(values={"SECRET_KEY": "n" * 60}, verify=verify_while_someone_else_writes)

    assert get_secret("SECRET_KEY") == "c" * 60
    assert not ActionLog.objects.filter(action="secret.rotate").exists()
