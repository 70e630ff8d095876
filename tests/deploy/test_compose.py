"""The deployment files, validated without a Docker engine: against the Compose
Specification's JSON schema (deploy/compose-spec.json, with check-jsonschema) and by Debian's
`docker-compose config` (apt-get install -y docker-compose; it parses and resolves a file
without an engine), plus what the cluster file must contain (docs/scaling.md)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA = DEPLOY / "compose-spec.json"
COMPOSE_FILES = [ROOT / "docker-compose.yml", *sorted(DEPLOY.glob("*.yml"))]
CLUSTER = DEPLOY / "cluster.yml"
# The variables the files require (`${VAR:?…}`), set to placeholders for validation.
ENV = {**os.environ, "POSTGRES_PASSWORD": "placeholder", "MUSICREC_API_KEY": "placeholder"}
CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).parent / "check-jsonschema"
)
DOCKER_COMPOSE = shutil.which("docker-compose")
ids = [str(p.relative_to(ROOT)) for p in COMPOSE_FILES]

needs_check_jsonschema = pytest.mark.skipif(
    not Path(CHECK_JSONSCHEMA).exists(), reason="check-jsonschema is not installed"
)
needs_docker_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose is not installed (apt-get install -y docker-compose)",
)


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--schemafile", str(SCHEMA), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(path), "config"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=path.parent,
        timeout=120,
    )


@pytest.fixture
def misspelt(tmp_path) -> Path:
    """A compose file with a typo in a key: both validators must reject it."""
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  api:\n    image: musicrec\n    mem_limt: 2g\n")
    return bad


@needs_check_jsonschema
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=ids)
def test_compose_files_match_the_compose_specification(path: Path) -> None:
    result = _schema_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_check_jsonschema
def test_the_schema_check_rejects_a_misspelt_key(misspelt) -> None:
    result = _schema_check(misspelt)
    assert result.returncode != 0 and "mem_limt" in result.stdout


@needs_docker_compose
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=ids)
def test_docker_compose_config_accepts_the_files(path: Path) -> None:
    result = _compose_config(path)
    assert result.returncode == 0, result.stderr
    assert "services:" in result.stdout


@needs_docker_compose
def test_docker_compose_config_rejects_a_misspelt_key(misspelt) -> None:
    result = _compose_config(misspelt)
    assert result.returncode != 0 and "mem_limt" in result.stderr


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load(CLUSTER.read_text())["services"]


def test_three_qdrant_nodes_in_distributed_mode(cluster) -> None:
    nodes = {k: v for k, v in cluster.items() if re.fullmatch(r"qdrant-\d", k)}
    assert len(nodes) == 3
    for name, node in nodes.items():
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert f"http://{name}:6335" in node["command"]  # its own peer address
        assert any(v.endswith(":/qdrant/storage") for v in node["volumes"])  # persistent
        if name != "qdrant-1":
            assert node["command"][node["command"].index("--bootstrap") + 1] == (
                "http://qdrant-1:6335"
            )
    assert [n for n, node in nodes.items() if node.get("ports")] == ["qdrant-1"]  # console
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {node["image"] for node in nodes.values()} == {single["qdrant"]["image"]}


def test_api_replicas_behind_a_health_checked_proxy(cluster) -> None:
    replicas = [k for k, v in cluster.items() if v.get("command") == ["musicrec-api"]]
    assert len(replicas) >= 2
    upstream = (DEPLOY / "nginx" / "api.conf").read_text()
    for name in replicas:
        assert "healthcheck" in cluster[name]
        assert f"server {name}:8000" in upstream
        assert cluster["proxy"]["depends_on"][name] == {"condition": "service_healthy"}
        assert "models:/models:ro" in cluster[name]["volumes"]  # shared artefacts, read-only
        assert cluster[name]["environment"]["MUSICREC_DATABASE_URL"].startswith("postgresql")
    scraped = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert all(f"{name}:8000" in scraped for name in replicas)


def test_replicas_share_a_rate_limit_budget_and_trust_only_nginx(cluster) -> None:
    """One Redis for every replica's budget; X-Forwarded-For believed from nginx's fixed
    address on the edge network, which it must be given."""
    replicas = [k for k, v in cluster.items() if v.get("command") == ["musicrec-api"]]
    nginx = cluster["proxy"]["networks"]["edge"]["ipv4_address"]
    for name in replicas:
        env = cluster[name]["environment"]
        assert env["MUSICREC_RATE_LIMIT_STORAGE"].startswith("redis://redis:")
        assert json.loads(env["MUSICREC_TRUSTED_PROXIES"]) == [nginx]
        assert cluster[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert "edge" in cluster[name]["networks"]
    assert "redis-cli" in cluster["redis"]["healthcheck"]["test"]
    file = yaml.safe_load(CLUSTER.read_text())
    (subnet,) = file["networks"]["edge"]["ipam"]["config"]
    assert ipaddress.ip_address(nginx) in ipaddress.ip_network(subnet["subnet"])


def test_jobs_and_limits(cluster) -> None:
    jobs = {k: v for k, v in cluster.items() if "jobs" in v.get("profiles", [])}
    commands = [" ".join(v["command"]) for v in jobs.values()]
    assert any("musicrec index" in c and "--fit-only" in c for c in commands)
    assert sum("--part" in c for c in commands) >= 2
    assert "musicrec train" in commands
    assert "models:/models" in cluster["train"]["volumes"]  # writes where replicas read
    assert all(v.get("restart") == "no" for v in jobs.values())
    assert [k for k, v in cluster.items() if "mem_limit" not in v] == []
