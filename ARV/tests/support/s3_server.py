"""pytest plugin: a real S3 API for the run, moto's `moto_server` on loopback in its own
process, spoken to over HTTP exactly as MinIO or AWS would be.

`s3_endpoint` starts it once per session and creates nothing in it; `s3_bucket` gives a
test a fresh, empty bucket of its own. Moto accepts any credentials and does not check
presigned signatures or expiry (AWS and MinIO do).
"""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx2
import pytest

from tests.support.processes import VENV_BIN, free_port, project_env, running, wait_until

S3_REGION = "us-east-1"
S3_ACCESS_KEY_ID = "testing"
S3_SECRET_ACCESS_KEY = "testing"


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY_ID,
        aws_secret_access_key=S3_SECRET_ACCESS_KEY,
    )


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    command = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with running(command, project_env(), log) as server:

        def answers() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"moto_server exited early; see {log}")
            try:
                httpx2.get(url, timeout=1)
            except httpx2.TransportError:
                return False
            return True

        wait_until(answers, timeout=30, what="moto_server")
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    name = f"test-{uuid.uuid4().hex}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name
