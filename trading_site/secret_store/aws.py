"""AWS Secrets Manager backend through boto3 (``AWS_ENDPOINT_URL`` points it at moto in tests).

A secret ``NAME`` is the secret id ``<SECRETS_AWS_PREFIX>NAME`` (default ``trading/NAME``) holding a
plain ``SecretString``. ``put_secret_value`` moves the ``AWSCURRENT`` stage to the new version and
``AWSPREVIOUS`` to the old one, which is what rollback reads. ``version`` accepts a version id or a
stage name (``AWSCURRENT``, ``AWSPREVIOUS``).
"""

from __future__ import annotations

import logging
import threading

import boto3
import botocore.exceptions

from trading_site.secret_store.base import (
    SecretAccessDenied,
    SecretBackendError,
    SecretConflict,
    SecretManager,
    SecretNotFound,
    secret_name_validate,
)
from trading_site.secret_store.conf import SecretsConfig

STAGES = ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING")
# botocore logs request and response bodies (the SecretString) at DEBUG: never let that through.
_QUIET_LOGGERS = ("botocore", "boto3", "urllib3")
_DENIED = {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}


class AwsSecretManager(SecretManager):
    name = "aws"
    supports_versions = True

    def __init__(self, config: SecretsConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._client = None
        for logger_name in _QUIET_LOGGERS:
            quiet = logging.getLogger(logger_name)
            if quiet.getEffectiveLevel() < logging.INFO:
                quiet.setLevel(logging.INFO)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._client = None

    def _secret_id(self, name: str) -> str:
        return f"{self._config.aws_prefix}{name}"

    def location(self, name: str) -> str:
        return f"aws {self._secret_id(name)} ({self._config.aws_region})"

    def _sm(self):
        # boto3 client creation is slow (~50 ms); build it once, lazily, thread-safely.
        if self._client is None:
            with self._lock:
                if self._client is None:
                    session = boto3.session.Session()
                    self._client = session.client(
                        "secretsmanager",
                        region_name=self._config.aws_region,
                        endpoint_url=self._config.aws_endpoint_url or None,
                    )
        return self._client

    def _translate(self, name: str, exc: Exception, *, missing: str = "not found") -> Exception:
        if isinstance(exc, botocore.exceptions.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                return SecretNotFound(name, self.name, f"{missing}: {self._secret_id(name)}")
            if code in _DENIED:
                return SecretAccessDenied(name, self.name, f"access denied to {self._secret_id(name)} ({code})")
            return SecretBackendError(name, self.name, f"AWS error {code or 'unknown'}")
        return SecretBackendError(name, self.name, f"cannot reach Secrets Manager ({type(exc).__name__})")

    def get_secret(self, name: str, *, version: str | None = None) -> str:
        secret_name_validate(name, self.name)
        kwargs: dict[str, str] = {"SecretId": self._secret_id(name)}
        if version is None:
            kwargs["VersionStage"] = "AWSCURRENT"
        elif version in STAGES:
            kwargs["VersionStage"] = version
        else:
            kwargs["VersionId"] = str(version)
        try:
            response = self._sm().get_secret_value(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            missing = "not found" if version is None else f"version {version} not found"
            raise self._translate(name, exc, missing=missing) from None
        value = response.get("SecretString")
        if not isinstance(value, str) or not value:
            raise SecretNotFound(name, self.name, "no SecretString (binary or empty secret)")
        return value

    def put_secret(self, name: str, value: str, *, expected_version: str | None = None) -> str:
        self._write_check(name, value)
        if expected_version is not None:
            # Secrets Manager has no conditional write; this check narrows the window, it does
            # not close it (AWSPREVIOUS still holds the overwritten value).
            current = self.current_version(name) or "0"
            if current != expected_version:
                raise SecretConflict(name, self.name, f"changed concurrently (expected version {expected_version})")
        sm = self._sm()
        try:
            try:
                response = sm.put_secret_value(SecretId=self._secret_id(name), SecretString=value)
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                response = sm.create_secret(Name=self._secret_id(name), SecretString=value)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._translate(name, exc) from None
        return str(response["VersionId"])

    def _stage_version(self, name: str, stage: str) -> str | None:
        secret_name_validate(name, self.name)
        try:
            response = self._sm().describe_secret(SecretId=self._secret_id(name))
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise self._translate(name, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._translate(name, exc) from None
        for version_id, stages in (response.get("VersionIdsToStages") or {}).items():
            if stage in stages:
                return str(version_id)
        return None

    def current_version(self, name: str) -> str | None:
        return self._stage_version(name, "AWSCURRENT")

    def previous_version(self, name: str) -> str | None:
        return self._stage_version(name, "AWSPREVIOUS")
