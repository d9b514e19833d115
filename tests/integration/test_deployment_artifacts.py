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
