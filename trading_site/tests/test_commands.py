"""create_user and setup_demo."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from trading_site.lib.roles import user_role


def test_create_user_from_env(db, monkeypatch):
    monkeypatch.setenv("PW", "a-long-enough-passphrase")
    call_command("create_user", "dana", "--role", "viewer", "--password-env", "PW")
    dana = get_user_model().objects.get(username="dana")
    assert user_role(dana) == "viewer"
    assert dana.check_password("a-long-enough-passphrase")
    assert not dana.is_staff


def test_create_admin_is_staff(db, monkeypatch):
    monkeypatch.setenv("PW", "a-long-enough-passphrase")
    call_command("create_user", "erin", "--role", "admin", "--password-env", "PW")
    erin = get_user_model().objects.get(username="erin")
    assert user_role(erin) == "admin" and erin.is_staff


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--role", "viewer", "--password-env", "MISSING_VAR"], {}, "MISSING_VAR is empty or not set"),
        (["--role", "viewer", "--password-env", "PW"], {"PW": "short"}, "password rejected"),
    ],
)
def test_create_user_refuses_bad_input(db, monkeypatch, args, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(CommandError, match=message):
        call_command("create_user", "frank", *args)
    assert not get_user_model().objects.filter(username="frank").exists()


def test_create_user_rejects_unknown_role(db, monkeypatch):
    # A valid password, so the only thing wrong is the role (a bare CommandError would also be
    # raised for the unset variable).
    monkeypatch.setenv("PW", "a-long-enough-passphrase")
    with pytest.raises(CommandError, match="invalid choice: 'superuser'"):
        call_command("create_user", "gus", "--role", "superuser", "--password-env", "PW")
    assert not get_user_model().objects.filter(username="gus").exists()


def test_create_user_refuses_duplicates(db, monkeypatch):
    monkeypatch.setenv("PW", "a-long-enough-passphrase")
    call_command("create_user", "hana", "--role", "viewer", "--password-env", "PW")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "hana", "--role", "admin", "--password-env", "PW")
    assert user_role(get_user_model().objects.get(username="hana")) == "viewer"


@pytest.mark.slow
def test_setup_demo_is_idempotent(db, monkeypatch, capsys):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("setup_demo")
    call_command("setup_demo")
    users = get_user_model().objects.filter(username__in=["admin", "operator", "viewer"])
    assert {u.username: user_role(u) for u in users} == {"admin": "admin", "operator": "operator", "viewer": "viewer"}
    assert all(u.check_password("demo-pass-123") for u in users)
    out = capsys.readouterr().out
    assert "user admin exists" in out
    # Not a terminal (captured): where the password is kept, never the password itself.
    assert "Demo logins: admin, operator, viewer / the demo password kept in the DEMO_PASSWORD environment variable" in out
    assert "demo-pass-123" not in out


@pytest.mark.slow
def test_run_platform_prints_the_demo_logins_only_when_it_knows_them(db, monkeypatch, settings, tmp_path):
    from ops.management.commands.run_platform import demo_logins_line

    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    assert demo_logins_line() == ""  # no demo users yet
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("setup_demo")
    assert demo_logins_line() == "Logins: admin / operator / viewer with password demo-pass-123"
    monkeypatch.delenv("DEMO_PASSWORD")
    assert demo_logins_line() == ""  # users exist, but the password is nowhere on this machine
    (tmp_path / "demo-password.txt").write_text("from-the-file\n")
    assert demo_logins_line() == "Logins: admin / operator / viewer with password from-the-file"
    assert demo_logins_line(show_password=False) == (
        f"Logins: admin / operator / viewer with the demo password kept in {tmp_path / 'demo-password.txt'}")


def test_a_second_platform_on_the_same_var_dir_is_refused_in_one_sentence(settings, tmp_path):
    from trading_site.instance import AlreadyRunning, instance_lock, start_check

    settings.VAR_DIR = tmp_path
    assert start_check() is None
    with instance_lock():
        problem = start_check()
        assert problem.startswith(f"Another platform is already running on {tmp_path} (pid {os.getpid()})")
        with pytest.raises(AlreadyRunning), instance_lock():
            pass
    assert start_check() is None  # released with the first platform


def test_a_sqlite_file_locked_by_another_process_is_named_not_a_system_check_error(tmp_path):
    import sqlite3

    from trading_site.instance import sqlite_busy

    path = tmp_path / "trading.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    assert sqlite_busy(timeout=0.2, db=db) is None
    holder.execute("BEGIN IMMEDIATE")  # what a long replay on the live file does
    try:
        message = sqlite_busy(timeout=0.2, db=db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert message.startswith(f"{path} is locked by another process")


def test_run_platform_starts_the_trade_stream_when_the_broker_needs_one(settings):
    from ops.management.commands.run_platform import process_commands

    settings.BROKER, settings.SIM_FILL_DELIVERY = "simulated", "stream"
    settings.WEB_WORKERS, settings.WEB_THREADS = 3, 2
    commands = process_commands(port=8123, host="127.0.0.1")
    assert set(commands) == {"web", "worker", "beat", "trade_stream"}
    assert commands["trade_stream"][1:] == ["manage.py", "run_trade_stream"]
    web = commands["web"]
    assert (web[web.index("--workers") + 1], web[web.index("--threads") + 1]) == ("3", "2")
    settings.SIM_FILL_DELIVERY = "inline"
    assert set(process_commands(port=8123, host="127.0.0.1")) == {"web", "worker", "beat"}
    settings.BROKER = "alpaca"
    assert "trade_stream" in process_commands(port=8123, host="127.0.0.1")
