"""A CSV file of one kind as source rows, streamed: the csv module over the file's lines, one
row in memory at a time. UTF-8 with or without a byte-order mark; anything else, and a header
that does not name the kind's columns, stops the run with a message that says what to fix.

Lines are decoded one by one (not through a TextIOWrapper, which decodes 8 KB ahead): a row
on a line that is not UTF-8 (a Latin-1 or Windows-1252 byte) is set aside with that reason,
and the rows before and after it are read."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator

from commands.ingest.errors import IngestSourceError
from commands.ingest.rows import ROW_MODELS, Kind, SourceRow


def csv_rows(lines: Iterable[bytes], kind: Kind) -> Iterator[SourceRow]:
    """The data rows of a binary stream (1 is the row after the header), each {column: cell}."""
    not_utf8: set[int] = set()  # physical lines decoded with replacement characters
    reader = csv.reader(_decoded(lines, not_utf8))
    number = 0
    try:
        header = [name.strip() for name in next(reader, [])]
        if 1 in not_utf8:
            raise IngestSourceError(f"the header line is {NOT_UTF8}") from None
        check_header(header, kind)
        last_line = reader.line_num
        for cells in reader:
            number += 1
            spans = range(last_line + 1, reader.line_num + 1)
            last_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            values = dict(zip(header, cells, strict=False))
            if bad := [line for line in spans if line in not_utf8]:
                yield SourceRow(number, kind, values, f"line {bad[0]} of the file is "
                                f"{NOT_UTF8}", defect_rule="encoding")
                continue
            defect = None if len(cells) == len(header) else (
                f"{len(cells)} cells where the header names {len(header)} columns")
            yield SourceRow(number, kind, values, defect)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise IngestSourceError(
                f"data row {number + 1} has a cell longer than "
                f"{csv.field_size_limit() // 1024} KB: is this the {kind.value} export? "
                "The rows before it were read") from None
        raise IngestSourceError(f"the CSV cannot be read after data row {number}: {exc}"
                                ) from None


NOT_UTF8 = ("not UTF-8 text: save the file as UTF-8 (Latin-1 or Windows-1252 exports are "
            "the usual cause)")


def _decoded(lines: Iterable[bytes], not_utf8: set[int]) -> Iterator[str]:
    """Each line as text; one that is not UTF-8 is noted (and read with replacement
    characters, so that the CSV reader keeps its place)."""
    for line_number, raw in enumerate(lines, start=1):
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            not_utf8.add(line_number)
            yield raw.decode("utf-8", errors="replace")


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
