"""docker/docker-compose.yml: the services, MinIO's AMQP notifications, the mps commands.

The file is read by ``docker compose config`` when the Compose plugin is installed (it validates
and interpolates), else by PyYAML (anchors and merge keys resolved, ``${...}`` left as written).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mps.settings import Settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
#: What the required ``${VAR:?}`` values are set to for ``docker compose config``.
REQUIRED_ENV = {"MPS_SECRET_ID": "id", "MPS_SECRET_KEY": "key", "MINIO_ROOT_PASSWORD": "minio-secret"}
MPS_SERVICES = {"api", "worker", "relay", "listen"}


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


def _by_docker_compose() -> dict[str, Any]:
    env = {**os.environ, **REQUIRED_ENV}
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    if _compose_plugin():
        return _by_docker_compose()
    try:
        import yaml
    except ImportError:
        pytest.skip("neither the docker compose plugin nor PyYAML is installed")
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(compose["services"][name])


def _argv(service: dict[str, Any]) -> list[str]:
    return [*service.get("entrypoint", []), *service.get("command", [])]


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert (
        set(compose["services"])
        == {"minio", "minio-init", "rabbitmq", "postgres", "prometheus", "grafana"} | MPS_SERVICES
    )


def test_minio_publishes_bucket_events_to_the_exchange_mps_listens_on(compose: dict[str, Any]) -> None:
    minio = _service(compose, "minio")["environment"]
    defaults = Settings.model_fields

    assert minio["MINIO_NOTIFY_AMQP_ENABLE_PRIMARY"] == "on"
    assert minio["MINIO_NOTIFY_AMQP_URL_PRIMARY"].startswith("amqp://")
    assert minio["MINIO_NOTIFY_AMQP_URL_PRIMARY"].endswith("@rabbitmq:5672")
    assert minio["MINIO_NOTIFY_AMQP_EXCHANGE_PRIMARY"] == defaults["bucket_events_exchange"].default
    assert minio["MINIO_NOTIFY_AMQP_EXCHANGE_TYPE_PRIMARY"] == defaults["bucket_events_exchange_type"].default
    assert minio["MINIO_NOTIFY_AMQP_DURABLE_PRIMARY"] == "on"
    assert minio["MINIO_NOTIFY_AMQP_DELIVERY_MODE_PRIMARY"] == "2"  # persistent
    assert minio["MINIO_NOTIFY_AMQP_QUEUE_DIR_PRIMARY"].startswith("/")
    listen = _service(compose, "listen")["environment"]
    assert listen["MPS_BUCKET_EVENTS_EXCHANGE"] == minio["MINIO_NOTIFY_AMQP_EXCHANGE_PRIMARY"]
    assert listen["MPS_BUCKET_EVENTS_EXCHANGE_TYPE"] == minio["MINIO_NOTIFY_AMQP_EXCHANGE_TYPE_PRIMARY"]


def test_the_init_job_creates_the_bucket_and_its_put_rule(compose: dict[str, Any]) -> None:
    init = _service(compose, "minio-init")
    script = " ".join(_argv(init))

    assert "mc mb --ignore-existing" in script
    assert re.search(r"mc event add \S+ arn:minio:sqs::PRIMARY:amqp --event put", script)
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    "name, argv",
    [
        ("api", ["mps", "api", "--host", "0.0.0.0", "--port", "8080"]),
        ("worker", ["mps", "worker"]),
        ("relay", ["mps", "relay"]),
        ("listen", ["mps", "listen"]),
    ],
)
def test_the_mps_processes_run_from_the_project_image(
    compose: dict[str, Any], name: str, argv: list[str]
) -> None:
    service = _service(compose, name)

    assert _argv(service) == argv
    build = service["build"]
    assert Path(DOCKER, build["context"]).resolve() == DOCKER.parent
    assert (DOCKER.parent / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"


@pytest.mark.parametrize("name", sorted(MPS_SERVICES))
def test_mps_is_configured_through_its_settings(compose: dict[str, Any], name: str) -> None:
    env = _service(compose, name)["environment"]

    assert env["MPS_DATABASE_URL"].startswith("postgresql+psycopg2://")
    assert env["MPS_DATABASE_URL"].split("@", 1)[1].startswith("postgres:5432/")
    assert env["MPS_AMQP_URL"].split("@", 1)[1] == "rabbitmq:5672/%2F"
    assert env["MPS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert {"MPS_S3_ACCESS_KEY", "MPS_S3_SECRET_KEY", "MPS_SECRET_ID", "MPS_SECRET_KEY"} <= set(env)
    # Every MPS_* name is a real setting (MPS_LOG_LEVEL is read by the service commands).
    unknown = {key for key in env if key.startswith("MPS_") and key[4:].lower() not in Settings.model_fields}
    assert unknown <= {"MPS_LOG_LEVEL"}


def test_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    for name in ("rabbitmq", "postgres", "minio", "api"):
        assert _service(compose, name)["healthcheck"]["test"], name
    api = _service(compose, "api")["depends_on"]
    assert {dep: api[dep]["condition"] for dep in api} == {
        "postgres": "service_healthy",
        "rabbitmq": "service_healthy",
        "minio": "service_healthy",
    }
    for name in ("worker", "relay", "listen"):
        assert _service(compose, name)["depends_on"]["api"]["condition"] == "service_healthy"


def test_rabbitmq_mounts_a_consumer_timeout_above_four_hours(compose: dict[str, Any]) -> None:
    volumes = _service(compose, "rabbitmq")["volumes"]
    mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in volumes]
    lines = (DOCKER / "rabbitmq.conf").read_text().splitlines()
    settings = {key.strip(): value.strip() for key, _, value in (line.partition("=") for line in lines)}

    assert any("rabbitmq.conf:/etc/rabbitmq/conf.d/" in mount for mount in mounts)
    assert int(settings["consumer_timeout"]) >= 4 * 3600 * 1000


def test_prometheus_scrapes_the_api_and_every_metrics_port(compose: dict[str, Any]) -> None:
    import yaml

    assert {"prometheus", "grafana"} <= set(compose["services"])
    port = str(_service(compose, "worker")["environment"]["MPS_METRICS_PORT"])
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["mps-api"]["static_configs"][0]["targets"] == ["api:8080"]
    assert jobs["mps-worker"]["dns_sd_configs"][0]["port"] == int(port)
    for name in ("listen", "relay"):
        assert jobs[f"mps-{name}"]["static_configs"][0]["targets"] == [f"{name}:{port}"]


def test_the_grafana_dashboard_queries_metrics_mps_exports() -> None:
    from mps.metrics import Metrics

    dashboard = json.loads((DOCKER / "grafana" / "mps-dashboard.json").read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    names = set(re.findall(r"\bmps_[a-z_]+", exprs))
    exported = {m.name for m in Metrics().registry.collect()} | {
        "mps_tasks", "mps_tasks_failed", "mps_queue_depth", "mps_queue_oldest_age_seconds",
        "mps_outbox_lag_seconds", "mps_store_up", "mps_broker_up",
    }  # fmt: skip
    suffixes = ("_bucket", "_total", "_count", "_sum")
    unknown = {
        n for n in names if n not in exported and not any(n.removesuffix(s) in exported for s in suffixes)
    }
    assert unknown == set()
