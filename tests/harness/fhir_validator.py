"""HAPI FHIR's instance validator (FHIR R4), offline: the small Java program in
tests/harness/fhir_validator/, built once with Maven into an executable jar cached in
~/.cache/clinic/fhir-validator/<hash of its sources>/ (a changed source builds anew).

    from tests.harness.fhir_validator import errors
    assert errors(bundle_path) == []            # or a dict: errors({"resourceType": ...})

Each run starts a JVM and loads HAPI (seconds): pass many files (or dicts) to one call. A
`.ndjson` file holds one resource per line. Terminology is checked only against what the
validator ships with (the R4 core code systems and value sets): no network, no terminology
server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "fhir_validator"
POM = PROJECT / "pom.xml"
CACHE = (Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clinic"
         / "fhir-validator")
JAR = "fhir-validate.jar"
ARCHIVE = "fhir-validate.jsa"  # the JVM's class data archive of the jar: starts ~1 s sooner
# A short run: the quick JIT tier and the serial collector start fastest on a small machine
# (for hundreds of resources per run the full JIT is ~20% faster). JVM log lines (e.g. a
# stale class data archive) go to stderr, never into the JSON on stdout.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx1g", "-Xlog:disable",
               "-Xlog:all=warning:stderr")
TIMEOUT = 900  # seconds, for a build or a run; a busy two-core machine is slow

Source = Path | str | Mapping[str, Any]


@dataclass(frozen=True)
class Issue:
    severity: str  # "fatal" | "error" | "warning" | "information"
    location: str  # a FHIRPath-like location, e.g. "Bundle.entry[0].resource/*AuditEvent/…*/"
    message: str
    message_id: str | None = None  # HAPI's message key, e.g. "Terminology_TX_NoValid_2_CC"
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


@dataclass(frozen=True)
class Result:
    file: str  # the path given, or "<argument N>" for a resource given as a dict
    resource: int  # the line's index in an .ndjson file (blank lines skipped), else 0
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.is_error]


def _sources_hash() -> str:
    digest = hashlib.sha256()
    for path in [POM, *sorted((PROJECT / "src").rglob("*.java"))]:
        digest.update(str(path.relative_to(PROJECT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def jar() -> Path:
    """The validator's executable jar, built with Maven the first time its sources are seen."""
    cached = CACHE / _sources_hash() / JAR
    if cached.exists():
        return cached
    if shutil.which("java") is None or shutil.which("mvn") is None:
        raise RuntimeError("the FHIR validator needs Java 17+ and Maven (apt-get install "
                           "openjdk-17-jdk-headless maven)")
    subprocess.run(["mvn", "-q", "-B", "-f", str(POM), "package", "-DskipTests"], check=True,
                   timeout=TIMEOUT)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{JAR}.{os.getpid()}")
    shutil.copyfile(PROJECT / "target" / JAR, partial)
    partial.replace(cached)  # atomic: a concurrent build never sees half a jar
    _archive_classes(cached)
    return cached


def _archive_classes(built: Path) -> None:
    """A training run that dumps the classes it loaded; without it runs are only slower."""
    with tempfile.TemporaryDirectory(prefix="clinic-fhir-") as folder:
        sample = Path(folder) / "sample.json"
        sample.write_text('{"resourceType": "Basic", "code": {"text": "warm-up"}}')
        partial = built.with_name(f".{ARCHIVE}.{os.getpid()}")
        subprocess.run(["java", *JVM_OPTIONS, f"-XX:ArchiveClassesAtExit={partial}", "-jar",
                        str(built), str(sample)], capture_output=True, timeout=TIMEOUT)
        if partial.exists():
            partial.replace(built.with_name(ARCHIVE))


def validate(*sources: Source) -> list[Result]:
    """Every resource of the given files (a `.ndjson` file: one resource per line) and dicts,
    validated in one JVM run; a Result per resource, in order."""
    if not sources:
        return []
    with tempfile.TemporaryDirectory(prefix="clinic-fhir-") as folder:
        arguments: list[str] = []
        names: dict[str, str] = {}
        for number, source in enumerate(sources):
            if isinstance(source, Mapping):
                written = Path(folder) / f"argument-{number}.json"
                written.write_text(json.dumps(source), encoding="utf-8")
                names[str(written)] = f"<argument {number}>"
                arguments.append(str(written))
            else:
                arguments.append(str(source))
        built = jar()
        archive = built.with_name(ARCHIVE)
        sharing = [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []
        run = subprocess.run(["java", *JVM_OPTIONS, *sharing, "-jar", str(built), *arguments],
                             capture_output=True, text=True, timeout=TIMEOUT)
    if run.returncode not in (0, 1):
        raise RuntimeError(f"the FHIR validator failed (exit code {run.returncode}): "
                           f"{run.stderr.strip() or run.stdout.strip()}")
    return [Result(names.get(entry["file"], entry["file"]), entry["resource"],
                   [Issue(i["severity"], i["location"] or "", i["message"] or "",
                          i.get("messageId"), i.get("line"), i.get("column"))
                    for i in entry["issues"]])
            for entry in json.loads(run.stdout)["files"]]


def errors(*sources: Source) -> list[Issue]:
    """The error and fatal issues of all the given resources (see `validate`), in order."""
    return [issue for result in validate(*sources) for issue in result.errors]
