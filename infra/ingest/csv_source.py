"""A CSV file of one kind as source rows, streamed: the csv module over the file's lines, one
row in memory at a time. UTF-8 with or without a byte-order mark; anything else, and a header
that does not name the kind's columns, stops the run with a message that says what to fix.

Lines are decoded one by one (not through a TextIOWrapper, which decodes 8 KB ahead): a
Latin-1 byte is reported on its own line, and every row before it is read."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import ROW_MODELS, Kind, SourceRow


def csv_rows(lines: Iterable[bytes], kind: Kind) -> Iterator[SourceRow]:
    """The data rows of a binary stream (1 is the row after the header), each {column: cell}."""
    reader = csv.reader(_decoded(lines))
    number = 0
    try:
        header = [name.strip() for name in next(reader, [])]
        check_header(header, kind)
        for cells in reader:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            defect = None if len(cells) == len(header) else (
                f"{len(cells)} cells where the header names {len(header)} columns")
            yield SourceRow(number, kind, dict(zip(header, cells, strict=False)), defect)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise IngestSourceError(
                f"data row {number + 1} has a cell longer than "
                f"{csv.field_size_limit() // 1024} KB: is this the {kind.value} export? "
                "The rows before it were read") from None
        raise IngestSourceError(f"the CSV cannot be read after data row {number}: {exc}"
                                ) from None


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    for line_number, raw in enumerate(lines, start=1):
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise IngestSourceError(
                f"line {line_number} of the file is not UTF-8 text: save the file as UTF-8 "
                "(Latin-1 or Windows-1252 exports are the usual cause); the rows before it "
                "were read") from None


def check_header(header: list[str], kind: Kind) -> None:
    """Every required column present, none unknown, none twice."""
    if not any(header):
        raise IngestSourceError(f"the file is empty: its first line names the columns of "
                                f"{kind.value} (docs/ingest.md)")
    required, optional = ROW_MODELS[kind].columns()
    problems = []
    if missing := [c for c in required if c not in header]:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown := [c for c in header if c not in required and c not in optional]:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if twice := sorted({c for c in header if header.count(c) > 1}):
        problems.append(f"column(s) named twice: {', '.join(twice)}")
    if problems:
        raise IngestSourceError(
            f"the header does not fit {kind.value}: {'; '.join(problems)}. Expected "
            f"{', '.join(required)} and optionally {', '.join(optional)} (docs/ingest.md)")
