"""moto's standalone AWS server (``moto_server``) for Secrets Manager."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3

from tests.servers._process import ServerProcess, free_port

REGION = "us-east-1"
# moto accepts any credentials; these are the documented moto test values, not real keys.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class MotoServer:
    endpoint_url: str
    process: ServerProcess

    def client(self):
        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client("secretsmanager", region_name=REGION, endpoint_url=self.endpoint_url)

    def stop(self) -> None:
        self.process.stop()


def moto_start() -> MotoServer:
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, **CREDENTIALS}
    process = ServerProcess(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        ready_url=f"http://127.0.0.1:{port}/moto-api/",
        env=env,
        timeout=60,
    ).start()
    return MotoServer(endpoint_url=f"http://127.0.0.1:{port}", process=process)
