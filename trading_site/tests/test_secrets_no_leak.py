"""No secret value appears in logs, audit entries, error messages, `secrets check` output or the admin.

One walk through every path that touches values — reads (miss, hit, version), missing and denied
secrets, rotation that succeeds and one that fails verification, rollback, the check command, the
settings bridge's error, AWS with botocore at DEBUG — then a grep of everything captured.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from trading_site.logging import JsonFormatter
from trading_site.models import ActionLog
from trading_site.secret_store import SecretError, get_secret
from trading_site.secret_store.settings_bridge import load_settings_secrets

pytestmark = pytest.mark.slow  # over ~2 s

VALUES = {
    "ALPACA_API_KEY": "PKLEAKCANARY01",
    "ALPACA_SECRET_KEY": "SKLEAKCANARY01",
    "SECRET_KEY": "django-leak-canary-" + "z" * 40,
}
NEW_KEY, NEW_SECRET = "PKLEAKCANARY02", "SKLEAKCANARY02"
REJECTED_KEY, REJECTED_SECRET = "PKLEAKREJECT03", "SKLEAKREJECT03"
AWS_VALUE = "aws-leak-canary-04"
ALL_VALUES = [*VALUES.values(), NEW_KEY, NEW_SECRET, REJECTED_KEY, REJECTED_SECRET, AWS_VALUE]


@pytest.fixture
def debug_log_capture():
    """Every record at DEBUG, formatted as text and as JSON (with the structured extras)."""
    stream = io.StringIO()
    text, structured = logging.StreamHandler(stream), logging.StreamHandler(stream)
    text.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    structured.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(text)
    root.addHandler(structured)
    yield stream
    root.removeHandler(text)
    root.removeHandler(structured)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_no_secret_value_leaks_anywhere(
    debug_log_capture, use_secrets, vault_env, aws_env, openbao, fake_alpaca, unique_prefix, settings, monkeypatch,
    capsys, client, make_user,
):
    settings.BROKER = "alpaca"
    outputs: list[str] = []
    manager = use_secrets("vault", ALPACA_BASE_URL=fake_alpaca.url, **vault_env)
    for name, value in VALUES.items():
        manager.put_secret(name, value)
    fake_alpaca.accept(VALUES["ALPACA_API_KEY"], VALUES["ALPACA_SECRET_KEY"])
    fake_alpaca.accept(NEW_KEY, NEW_SECRET)

    # reads: miss, hit, version, missing, denied
    assert get_secret("ALPACA_API_KEY") == VALUES["ALPACA_API_KEY"]
    assert get_secret("ALPACA_API_KEY") == VALUES["ALPACA_API_KEY"]
    assert get_secret("ALPACA_API_KEY", version="1") == VALUES["ALPACA_API_KEY"]
    with pytest.raises(SecretError) as missing:
        get_secret("DATABASE_PASSWORD")
    outputs.append(str(missing.value))
    token = openbao.token_create(policy_name=f"nothing-{unique_prefix}", policy_hcl='path "sys/nothing" { capabilities = ["read"] }')
    denied_manager = use_secrets("vault", ALPACA_BASE_URL=fake_alpaca.url, **{**vault_env, "VAULT_TOKEN": token})
    with pytest.raises(SecretError) as denied:
        denied_manager.get_secret("ALPACA_SECRET_KEY")
    outputs.append(str(denied.value))

    # the bridge refusing to start (required secret denied), then back to the root token
    monkeypatch.setenv("BROKER", "alpaca")
    with pytest.raises(ImproperlyConfigured) as bridge_error:
        load_settings_secrets()
    outputs.append(str(bridge_error.value))
    use_secrets("vault", ALPACA_BASE_URL=fake_alpaca.url, **vault_env)

    # rotation: one rejected by the broker, one accepted, then a rollback
    monkeypatch.setenv("REJ_KEY", REJECTED_KEY)
    monkeypatch.setenv("REJ_SECRET", REJECTED_SECRET)
    with pytest.raises(CommandError) as rejected:
        call_command("secrets", "rotate", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "--from-env", "REJ_KEY", "REJ_SECRET")
    outputs.append(str(rejected.value))
    monkeypatch.setenv("NEW_KEY", NEW_KEY)
    monkeypatch.setenv("NEW_SECRET", NEW_SECRET)
    call_command("secrets", "rotate", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "--from-env", "NEW_KEY", "NEW_SECRET")
    call_command("secrets", "rollback", "ALPACA_SECRET_KEY")
    assert get_secret("ALPACA_SECRET_KEY") == VALUES["ALPACA_SECRET_KEY"]

    # check, text and JSON
    call_command("secrets", "check")
    call_command("secrets", "check", "--json")

    # AWS with botocore's DEBUG logging requested
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    aws = use_secrets("aws", **aws_env)
    aws.put_secret("SECRET_KEY", AWS_VALUE)
    assert get_secret("SECRET_KEY") == AWS_VALUE
    assert get_secret("SECRET_KEY", version="AWSCURRENT") == AWS_VALUE

    # the admin's views of the audit trail
    admin = make_user("root-admin", None)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    rows = list(ActionLog.objects.filter(object_type="secret"))
    pages = [client.get("/admin/trading_site/actionlog/?object_type=secret")]
    pages += [client.get(f"/admin/trading_site/actionlog/{row.pk}/change/") for row in rows]
    assert {page.status_code for page in pages} == {200}

    captured_logs = debug_log_capture.getvalue()
    outputs.append(capsys.readouterr().out)
    audit = json.dumps(list(ActionLog.objects.values()), default=str)
    admin_html = "".join(page.content.decode() for page in pages)
    assert "secret.read ALPACA_API_KEY backend=vault outcome=read" in captured_logs  # the capture works
    assert '"secret_outcome": "cached"' in captured_logs
    assert {"secret.read", "secret.write", "secret.rotate", "secret.rotate_failed", "secret.rollback"} <= {r.action for r in rows}
    assert "secrets backend: vault" in outputs[-1]
    for value in ALL_VALUES:
        assert value not in captured_logs, f"value leaked into logs: {value[:4]}…"
        assert value not in audit, f"value leaked into the audit trail: {value[:4]}…"
        assert value not in admin_html, f"value leaked into the admin: {value[:4]}…"
        assert all(value not in text for text in outputs), f"value leaked into an error/output: {value[:4]}…"
