"""Each backend against the real thing: env vars, files, an OpenBao dev server, moto's AWS server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from trading_site.secret_store import SecretAccessDenied, SecretBackendError, SecretNotFound
from trading_site.secret_store.aws import AwsSecretManager
from trading_site.secret_store.conf import secrets_config_from_env
from trading_site.secret_store.local import EnvSecretManager, FileSecretManager
from trading_site.secret_store.vault import VaultSecretManager

READ_ONLY_POLICY = """
path "secret/data/trading/{prefix}/ALPACA_API_KEY" {{ capabilities = ["read"] }}
path "secret/metadata/trading/{prefix}/*" {{ capabilities = ["read"] }}
"""


# --- env ---------------------------------------------------------------------------------------------
def test_env_backend_reads_the_variable_and_reports_missing_and_empty_ones():
    backend = EnvSecretManager({"ALPACA_API_KEY": "PKENV123", "ALPACA_SECRET_KEY": ""})

    assert backend.get_secret("ALPACA_API_KEY") == "PKENV123"
    with pytest.raises(SecretNotFound) as missing:
        backend.get_secret("SECRET_KEY")
    with pytest.raises(SecretNotFound):
        backend.get_secret("ALPACA_SECRET_KEY")
    assert str(missing.value) == "secret 'SECRET_KEY' in backend 'env': environment variable SECRET_KEY is not set or empty"


def test_env_backend_has_no_versions_and_no_writes():
    backend = EnvSecretManager({"ALPACA_API_KEY": "PKENV123"})

    with pytest.raises(SecretBackendError, match="does not keep versions"):
        backend.get_secret("ALPACA_API_KEY", version="1")
    with pytest.raises(SecretBackendError, match="read-only"):
        backend.put_secret("ALPACA_API_KEY", "new")


def test_invalid_names_are_refused_before_any_lookup():
    backend = EnvSecretManager({"lower": "x"})

    with pytest.raises(SecretBackendError, match="invalid secret name"):
        backend.get_secret("lower")
    with pytest.raises(SecretBackendError, match="invalid secret name"):
        backend.get_secret("../etc/passwd")


# --- file --------------------------------------------------------------------------------------------
def test_file_backend_reads_name_file_and_strips_one_trailing_newline(tmp_path):
    (tmp_path / "key").write_text("PKFILE123\n")
    backend = FileSecretManager(environ_map={"ALPACA_API_KEY_FILE": str(tmp_path / "key")})

    assert backend.get_secret("ALPACA_API_KEY") == "PKFILE123"
    assert backend.location("ALPACA_API_KEY") == f"file {tmp_path / 'key'}"


def test_file_backend_falls_back_to_the_secrets_directory(tmp_path):
    (tmp_path / "SECRET_KEY").write_text("s" * 60)
    backend = FileSecretManager(directory=str(tmp_path), environ_map={})

    assert backend.get_secret("SECRET_KEY") == "s" * 60


def test_file_backend_missing_unset_and_empty_files_are_not_found(tmp_path):
    (tmp_path / "empty").write_text("\n")
    backend = FileSecretManager(
        environ_map={"ALPACA_API_KEY_FILE": str(tmp_path / "nope"), "ALPACA_SECRET_KEY_FILE": str(tmp_path / "empty")}
    )

    with pytest.raises(SecretNotFound, match="does not exist"):
        backend.get_secret("ALPACA_API_KEY")
    with pytest.raises(SecretNotFound, match="is empty"):
        backend.get_secret("ALPACA_SECRET_KEY")
    with pytest.raises(SecretNotFound, match="SECRET_KEY_FILE is not set"):
        backend.get_secret("SECRET_KEY")


# --- vault (OpenBao) ------------------------------------------------------------------------------------
def _vault(env: dict, **overrides) -> VaultSecretManager:
    return VaultSecretManager(secrets_config_from_env({**env, **overrides}, backend="vault"))


def test_vault_token_auth_reads_writes_and_keeps_versions(vault_env):
    backend = _vault(vault_env)

    first = backend.put_secret("ALPACA_API_KEY", "PKV1")
    second = backend.put_secret("ALPACA_API_KEY", "PKV2")

    assert (first, second) == ("1", "2")
    assert backend.get_secret("ALPACA_API_KEY") == "PKV2"
    assert backend.get_secret("ALPACA_API_KEY", version="1") == "PKV1"
    assert backend.current_version("ALPACA_API_KEY") == "2"
    assert backend.previous_version("ALPACA_API_KEY") == "1"


def test_vault_reads_what_the_bao_operator_wrote_at_mount_and_prefix(openbao, vault_env):
    openbao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{vault_env['VAULT_PATH_PREFIX']}/SECRET_KEY", secret={"value": "k" * 64}, mount_point="secret"
    )

    assert _vault(vault_env).get_secret("SECRET_KEY") == "k" * 64


def test_vault_missing_path_and_missing_version_are_not_found(vault_env):
    backend = _vault(vault_env)
    backend.put_secret("ALPACA_API_KEY", "PKV1")

    with pytest.raises(SecretNotFound) as missing:
        backend.get_secret("ALPACA_SECRET_KEY")
    with pytest.raises(SecretNotFound, match="version 7 not found"):
        backend.get_secret("ALPACA_API_KEY", version="7")
    assert missing.value.backend == "vault"
    assert f"secret/{vault_env['VAULT_PATH_PREFIX']}/ALPACA_SECRET_KEY" in str(missing.value)
    assert backend.current_version("ALPACA_SECRET_KEY") is None


def test_vault_approle_login_reads_what_the_policy_allows_and_is_denied_the_rest(openbao, vault_env, unique_prefix):
    root = _vault(vault_env)
    root.put_secret("ALPACA_API_KEY", "PKAPPROLE")
    root.put_secret("ALPACA_SECRET_KEY", "not-for-this-role")
    role_id, secret_id = openbao.approle_create(
        role=f"trading-{unique_prefix}",
        policy_name=f"trading-ro-{unique_prefix}",
        policy_hcl=READ_ONLY_POLICY.format(prefix=unique_prefix),
    )
    env = {k: v for k, v in vault_env.items() if k != "VAULT_TOKEN"}
    backend = _vault(env, VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)

    assert backend.get_secret("ALPACA_API_KEY") == "PKAPPROLE"
    with pytest.raises(SecretAccessDenied) as denied:
        backend.get_secret("ALPACA_SECRET_KEY")
    with pytest.raises(SecretAccessDenied):
        backend.put_secret("ALPACA_API_KEY", "PKNEW")
    assert "permission denied" in str(denied.value)
    assert root.get_secret("ALPACA_API_KEY") == "PKAPPROLE"  # the refused write changed nothing


def test_vault_token_with_a_narrow_policy_is_denied_other_secrets(openbao, vault_env, unique_prefix):
    _vault(vault_env).put_secret("ALPACA_SECRET_KEY", "hidden")
    token = openbao.token_create(
        policy_name=f"narrow-{unique_prefix}", policy_hcl=READ_ONLY_POLICY.format(prefix=unique_prefix)
    )

    with pytest.raises(SecretAccessDenied):
        _vault(vault_env, VAULT_TOKEN=token).get_secret("ALPACA_SECRET_KEY")


def test_vault_wrong_approle_secret_id_is_an_access_error(openbao, vault_env, unique_prefix):
    role_id, _ = openbao.approle_create(
        role=f"bad-{unique_prefix}", policy_name=f"bad-{unique_prefix}", policy_hcl=READ_ONLY_POLICY.format(prefix=unique_prefix)
    )
    env = {k: v for k, v in vault_env.items() if k != "VAULT_TOKEN"}

    with pytest.raises(SecretAccessDenied, match="AppRole login refused"):
        _vault(env, VAULT_ROLE_ID=role_id, VAULT_SECRET_ID="00000000-0000-0000-0000-000000000000").get_secret("ALPACA_API_KEY")


def test_vault_unreachable_server_is_a_backend_error_naming_the_secret():
    backend = _vault({"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "x", "VAULT_TIMEOUT": "1"})

    with pytest.raises(SecretBackendError) as error:
        backend.get_secret("SECRET_KEY")
    assert error.value.name == "SECRET_KEY"
    assert "cannot reach http://127.0.0.1:9" in str(error.value)


def test_vault_configuration_is_validated_loudly():
    with pytest.raises(ImproperlyConfigured, match="VAULT_ADDR"):
        secrets_config_from_env({}, backend="vault")
    with pytest.raises(ImproperlyConfigured, match="VAULT_TOKEN or VAULT_ROLE_ID"):
        secrets_config_from_env({"VAULT_ADDR": "http://127.0.0.1:8200"}, backend="vault")
    with pytest.raises(ImproperlyConfigured, match="both VAULT_ROLE_ID and VAULT_SECRET_ID"):
        secrets_config_from_env({"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_ROLE_ID": "r"}, backend="vault")
    with pytest.raises(ImproperlyConfigured, match="SECRETS_CACHE_TTL"):
        secrets_config_from_env({"SECRETS_CACHE_TTL": "-1"})
    with pytest.raises(ImproperlyConfigured, match="AWS_REGION"):
        secrets_config_from_env({}, backend="aws")
    with pytest.raises(ImproperlyConfigured, match="SECRETS_BACKEND must be"):
        secrets_config_from_env({"SECRETS_BACKEND": "doppler"})


# --- aws (moto) ----------------------------------------------------------------------------------------
def _aws(env: dict) -> AwsSecretManager:
    return AwsSecretManager(secrets_config_from_env(env, backend="aws"))


@pytest.mark.slow
def test_aws_put_creates_then_versions_with_current_and_previous_stages(aws_env, moto_server, unique_prefix):
    backend = _aws(aws_env)

    first = backend.put_secret("ALPACA_API_KEY", "PKAWS1")
    second = backend.put_secret("ALPACA_API_KEY", "PKAWS2")

    assert first != second
    assert backend.get_secret("ALPACA_API_KEY") == "PKAWS2"
    assert backend.get_secret("ALPACA_API_KEY", version="AWSPREVIOUS") == "PKAWS1"
    assert backend.get_secret("ALPACA_API_KEY", version=first) == "PKAWS1"
    assert backend.current_version("ALPACA_API_KEY") == second
    assert backend.previous_version("ALPACA_API_KEY") == first
    stored = moto_server.client().get_secret_value(SecretId=f"{unique_prefix}/ALPACA_API_KEY")
    assert stored["SecretString"] == "PKAWS2"


def test_aws_reads_a_secret_created_by_the_aws_api(aws_env, moto_server, unique_prefix):
    moto_server.client().create_secret(Name=f"{unique_prefix}/SECRET_KEY", SecretString="a" * 64)

    assert _aws(aws_env).get_secret("SECRET_KEY") == "a" * 64


def test_aws_missing_secret_and_missing_version_are_not_found(aws_env, unique_prefix):
    backend = _aws(aws_env)
    backend.put_secret("ALPACA_API_KEY", "PKAWS1")

    with pytest.raises(SecretNotFound) as missing:
        backend.get_secret("ALPACA_SECRET_KEY")
    with pytest.raises(SecretNotFound):
        backend.get_secret("ALPACA_API_KEY", version="AWSPREVIOUS")
    assert str(missing.value) == f"secret 'ALPACA_SECRET_KEY' in backend 'aws': not found: {unique_prefix}/ALPACA_SECRET_KEY"
    assert backend.current_version("ALPACA_SECRET_KEY") is None


def test_vault_approle_logs_in_again_when_its_token_is_revoked(openbao, vault_env, unique_prefix):
    _vault(vault_env).put_secret("ALPACA_API_KEY", "PKRELOGIN")
    role_id, secret_id = openbao.approle_create(
        role=f"relogin-{unique_prefix}", policy_name=f"relogin-{unique_prefix}",
        policy_hcl=READ_ONLY_POLICY.format(prefix=unique_prefix),
    )
    env = {k: v for k, v in vault_env.items() if k != "VAULT_TOKEN"}
    backend = _vault(env, VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)
    assert backend.get_secret("ALPACA_API_KEY") == "PKRELOGIN"
    first_token = backend._client.token

    openbao.client().auth.token.revoke(first_token)
    value = backend.get_secret("ALPACA_API_KEY")

    assert value == "PKRELOGIN"
    assert backend._client.token != first_token


@pytest.mark.parametrize("backend_name", ["vault", "aws"])
def test_a_forked_child_gets_its_own_backend_client(use_secrets, vault_env, aws_env, backend_name):
    import os

    manager = use_secrets(backend_name, **(vault_env if backend_name == "vault" else aws_env))
    manager.backend.put_secret("ALPACA_API_KEY", "PKFORK")
    parent_client = manager.backend._client if backend_name == "vault" else manager.backend._sm()
    read_fd, write_fd = os.pipe()

    pid = os.fork()
    if pid == 0:  # child: report and leave without running pytest's teardown
        try:
            child = manager.backend._client if backend_name == "vault" else manager.backend._sm()
            ok = child is not parent_client and manager.backend.get_secret("ALPACA_API_KEY") == "PKFORK"
            os.write(write_fd, b"ok" if ok else b"same-client")
        except Exception as exc:
            os.write(write_fd, type(exc).__name__.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    report = os.read(read_fd, 100)
    os.waitpid(pid, 0)
    os.close(read_fd)

    assert report == b"ok"
    assert manager.backend.get_secret("ALPACA_API_KEY") == "PKFORK"  # the parent's client still works


@pytest.mark.parametrize("backend_name", ["vault", "aws"])
def test_writing_backends_refuse_an_empty_value_or_a_bad_name_and_write_nothing(vault_env, aws_env, backend_name):
    backend = _vault(vault_env) if backend_name == "vault" else _aws(aws_env)
    with pytest.raises(SecretBackendError, match="refusing to write an empty value"):
        backend.put_secret("ALPACA_API_KEY", "")
    with pytest.raises(SecretBackendError, match="invalid secret name"):
        backend.put_secret("lower-case", "PKVALUE")
    assert backend.current_version("ALPACA_API_KEY") is None
