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

import pytest
import yaml

from tests.harness import deploy_tools
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


def test_the_image_holds_every_package_the_project_installs() -> None:
    """A package left out of the image fails only when its role imports it (the web UI did)."""
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {line.split()[1].rstrip("/") for line in (ROOT / "Dockerfile").read_text()
              .splitlines() if line.startswith("COPY ") and "--from" not in line}
    assert packages <= copied, f"the Dockerfile does not copy {sorted(packages - copied)}"


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


# ---- Helm chart --------------------------------------------------------------------------

CHART = DEPLOY / "helm" / "clinic"
CHART_VALUES = CHART / "ci" / "test-values.yaml"


class _NoDuplicates(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (Kubernetes would keep one silently)."""


def _mapping(loader: _NoDuplicates, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}",
                                                node.start_mark)
    return loader.construct_mapping(node)


_NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    done = deploy_tools.helm("template", CHART, CHART_VALUES)
    assert done.returncode == 0, "helm template deploy/helm/clinic failed:\n" + explain(done)
    path = tmp_path_factory.mktemp("chart") / "rendered.yaml"
    path.write_text(done.stdout)
    return path


def manifests(rendered: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(rendered.read_text(), Loader=_NoDuplicates) if doc]


def test_chart_passes_helm_lint() -> None:
    done = deploy_tools.helm("lint", CHART, CHART_VALUES)
    assert done.returncode == 0, "helm lint --strict deploy/helm/clinic:\n" + explain(done)


def test_chart_refuses_to_render_without_secrets() -> None:
    done = deploy_tools.helm("template", CHART)
    assert done.returncode != 0 and "secrets.jwtSecret" in done.stdout + done.stderr, \
        explain(done)


def test_rendered_chart_matches_the_kubernetes_schemas(rendered: Path) -> None:
    done = run(venv_tool("kubernetes-validate"), "--strict", "--quiet", str(rendered))
    assert done.returncode == 0, ("the rendered chart does not match the Kubernetes "
                                  "schemas:\n" + explain(done))


def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc["spec"]["template"] for doc in docs
            if doc["kind"] in ("Deployment", "Job")}


def test_rendered_chart_keeps_its_promises(rendered: Path) -> None:
    docs = manifests(rendered)
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"):
        assert (kind, "clinic-api") in kinds
    assert ("Job", "clinic-migrate") in kinds
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    for role in ("projector", "relay", "notifier"):
        assert deployments[f"clinic-{role}"]["spec"]["replicas"] == 2, role
    api = pods(docs)["clinic-api"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for name, pod in pods(docs).items():
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["limits"] and container["resources"]["requests"]
            env = {e["name"]: e for e in container["env"]}
            for secret in ("JWT_SECRET", "PHI_KEK", "AUDIT_SIGNING_KEY", "DATABASE_URL",
                           "REDIS_URL"):
                assert f"CLINIC_{secret}" not in env, f"{name}: {secret} in the environment"
                assert env[f"CLINIC_{secret}_FILE"]["value"].startswith("/etc/clinic/secrets/")
            assert not any("valueFrom" in e for e in container["env"]), name


def test_network_policies_cover_every_pod(rendered: Path) -> None:
    docs = manifests(rendered)
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    for name, pod in pods(docs).items():
        labels = pod["metadata"]["labels"]
        mine = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].items()
                <= labels.items()]
        assert mine, f"no NetworkPolicy selects {name}"
        for policy in mine:
            assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
            open_ingress = [rule for rule in policy["spec"].get("ingress", [])
                            if "from" not in rule]
            assert not open_ingress or labels["app.kubernetes.io/component"] == "api", \
                f"{name} can be reached from anywhere"
            ports = {port["port"] for rule in policy["spec"]["egress"]
                     for port in rule.get("ports", [])}
            uses = {key.rsplit("-", 1)[1] for key in labels if key.startswith("clinic.example/")}
            assert (5432 in ports) == ("postgres" in uses), name
            assert (6379 in ports) == ("redis" in uses), name
            assert (9093 in ports) == ("kafka" in uses), name


# ---- CI workflow -------------------------------------------------------------------------

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_workflow_passes_actionlint() -> None:
    actionlint = deploy_tools.actionlint_cli()
    if actionlint is None:  # no Go toolchain: the workflow schema only (decision 0055)
        done = run(venv_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                   str(WORKFLOW))
        assert done.returncode == 0, "ci.yml does not match the workflow schema:\n" + \
            explain(done)
        return
    done = run(str(actionlint), "-no-color", str(WORKFLOW))
    assert done.returncode == 0, "actionlint found problems in ci.yml:\n" + explain(done)


def test_workflow_runs_the_readme_test_command_and_builds_the_image() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("bash .ci/run" in step for step in steps)
    assert any("docker build" in step for step in steps)
    assert any("test_deployment_artifacts.py" in step for step in steps)
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("./run test")
