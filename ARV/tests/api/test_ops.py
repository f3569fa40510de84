import socket
from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.conftest import ClientFactory


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_health_needs_no_dependency(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0"}


def test_ready_when_every_dependency_answers(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


def test_not_ready_when_redis_is_down(client_for: ClientFactory, settings: Settings) -> None:
    broken = settings.model_copy(update={"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    response = client_for(broken).get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["message"] == "Not ready: redis failing."
    checks = body["error"]["details"]
    assert checks["redis"]["ok"] is False
    assert "Connection" in checks["redis"]["error"]
    assert checks["database"]["ok"] is True


def test_not_ready_when_s3_bucket_is_unreachable(
    client_for: ClientFactory, settings: Settings
) -> None:
    broken = settings.model_copy(
        update={
            "STORAGE_PROVIDER": "s3",
            "S3_BUCKET": "arvlite",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
            "S3_ACCESS_KEY_ID": "key",
        }
    )
    response = client_for(broken).get("/ready")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "Not ready: storage failing."


def test_not_ready_when_storage_root_is_missing(
    client_for: ClientFactory, settings: Settings, tmp_path: Path
) -> None:
    read_only = tmp_path / "storage"
    client = client_for(settings.model_copy(update={"STORAGE_LOCAL_ROOT": read_only}))
    assert client.get("/ready").status_code == 200  # created at start-up
    read_only.rmdir()
    response = client.get("/ready")
    assert response.status_code == 503
    assert "does not exist" in response.json()["error"]["details"]["storage"]["error"]


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "ARVlite"
    assert spec["info"]["version"] == "0.1.0"
    assert {"/health", "/ready", "/metrics"} <= set(spec["paths"])
    assert "operations" in {tag["name"] for tag in spec["tags"]}
