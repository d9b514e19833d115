"""Every module of the five packages imports: mypy is told to ignore missing imports (for
untyped libraries), so a module moved or deleted under an importer would otherwise show only
when that code path runs."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ["domain", "commands", "queries", "projections", "infra"]


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return names


@pytest.mark.parametrize("name", _modules())
def test_the_module_imports(name: str) -> None:
    importlib.import_module(name)
