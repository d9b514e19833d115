"""The deployment files are checked by the tools of their kind (docs/deployment.md):

- Dockerfile: hadolint.
- deploy/compose.yaml: the Compose specification's JSON schema (check-jsonschema), and what a
  schema cannot see: every file it mounts exists, every service it depends on is defined.
- deploy/helm/clinic: `helm lint --strict`, and `helm template` validated against the
  Kubernetes schemas (kubernetes-validate --strict), plus the chart's promises (probes,
  securityContext, secrets as files, network policies).
- .github/workflows/ci.yml: actionlint (or, without Go, the workflow JSON schema).

Nothing here builds or runs an image: there is no container engine on the development
machine; CI builds the image (.github/workflows/ci.yml).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.harness.deploy_tools import venv_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


# ---- Dockerfile ------------------------------------------------------------------------

def test_dockerfile_passes_hadolint() -> None:
    done = run(venv_tool("hadolint"), "--no-color", "Dockerfile")
    assert done.returncode == 0, "hadolint found problems in Dockerfile:\n" + explain(done)


def test_dockerfile_final_stage_is_slim_and_not_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = text.split("\nFROM ")
    assert len(stages) >= 3, "multi-stage: a build stage and a runtime stage"
    final = stages[-1]
    assert "-slim" in text.split("ARG PYTHON_IMAGE=", 1)[1].splitlines()[0]
    for forbidden in ("build-essential", "apt-get install", "gcc"):
        assert forbidden not in final, f"the runtime stage installs {forbidden}"
    user = [line for line in final.splitlines() if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("0", "root")), "runs as root"
    assert "HEALTHCHECK" in final and "ENTRYPOINT" in final


# ---- Docker Compose ----------------------------------------------------------------------

def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_file_matches_the_compose_specification() -> None:
    done = run(venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
               str(DEPLOY / "compose.yaml"))
    assert done.returncode == 0, ("deploy/compose.yaml does not match the Compose "
                                  "specification:\n" + explain(done))


def test_compose_references_resolve() -> None:
    """What the schema cannot see: mounted files exist, dependencies and secrets are defined."""
    spec = compose()
    services: dict[str, Any] = spec["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is missing"
            else:
                assert source in spec.get("volumes", {}), f"{name}: volume {source} undeclared"
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in spec.get("secrets", {}), f"{name}: secret {secret_name}?"
        for network in service.get("networks", []):
            assert network in spec.get("networks", {}), f"{name}: network {network}?"
    build = services["api-1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_compose_runs_the_stack_the_deployment_describes() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    brokers = [s for s in services.values() if str(s.get("image", "")).startswith("apache/kafka")]
    assert len(brokers) == 3
    assert all(b["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller" for b in brokers)
    commands = {name: s.get("command", [None])[0] for name, s in services.items()}
    assert sorted(n for n, c in commands.items() if c == "serve") == ["api-1", "api-2"]
    assert {"project", "relay", "notify", "migrate"} <= set(commands.values())
    assert {"proxy", "mailpit", "otel-collector", "prometheus", "grafana", "jaeger"} <= set(
        services)
    for name, service in services.items():  # published ports on loopback only
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        if service.get("command", [None])[0] in commands.values() and "image" in service \
                and service["image"].startswith("clinic-booking"):
            env = service["environment"]
            assert not any(k in env for k in ("CLINIC_JWT_SECRET", "CLINIC_PHI_KEK",
                                              "CLINIC_AUDIT_SIGNING_KEY")), name
    prometheus = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "/etc/prometheus/rules/" in prometheus
    assert yaml.safe_load(prometheus)["scrape_configs"]
