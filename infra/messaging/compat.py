"""Backward compatibility of Avro schemas: can the current schema read what an older one wrote?

Follows the specification's schema resolution rules
(https://avro.apache.org/docs/1.12.0/specification/#schema-resolution), checked statically over
the whole schema rather than per datum: a writer union branch that could not be read is a
problem even if no message ever used it. Named types may be referenced by name anywhere, and
recursive records are handled. Field defaults themselves are validated by fastavro's
`parse_schema`, which both schemas go through first.

Stricter than the specification in one way: a change of `logicalType` on the same field is a
problem even where the underlying type still resolves (timestamp-millis read as timestamp-micros
decodes to the wrong instant), except adding or dropping `uuid` on a string, which only changes
whether the reader gets a `UUID` or its text.
"""

from __future__ import annotations

from typing import Any

from infra.messaging.schema_parts import (
    NAMED,
    Named,
    deref,
    describe,
    kind_of,
    logical,
    names_match,
    parse,
    short_name,
)

# writer type -> the reader types it is promoted to
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}



def backward_problems(reader: dict[str, Any], writer: dict[str, Any]) -> list[str]:
    """Why data written with `writer` cannot be read with `reader`; empty if it can.

    Both may be raw JSON (as loaded from a .avsc) or `fastavro.parse_schema` output."""
    parsed_reader: dict[str, Any] = parse(reader)
    parsed_writer: dict[str, Any] = parse(writer)
    resolver = _Resolver(parsed_reader.get("__named_schemas", {}),
                         parsed_writer.get("__named_schemas", {}))
    resolver.resolve(parsed_reader, parsed_writer, short_name(parsed_reader.get("name", "<root>")))
    return resolver.problems


class _Resolver:
    def __init__(self, reader_names: Named, writer_names: Named) -> None:
        self.reader_names = reader_names
        self.writer_names = writer_names
        self.problems: list[str] = []
        self._records_in_progress: set[tuple[str, str]] = set()

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(f"{path}: {reason}")

    def resolve(self, reader: Any, writer: Any, path: str) -> None:
        reader = deref(reader, self.reader_names)
        writer = deref(writer, self.writer_names)
        r_kind, w_kind = kind_of(reader), kind_of(writer)

        if w_kind == "union":
            for branch in writer:
                branch = deref(branch, self.writer_names)
                if r_kind == "union":
                    self._resolve_into_union(reader, branch, path)
                else:
                    self.resolve(reader, branch, path)
            return
        if r_kind == "union":
            self._resolve_into_union(reader, writer, path)
            return

        if r_kind != w_kind and r_kind not in PROMOTIONS.get(w_kind, frozenset()):
            self.problem(path, f"writer type {describe(writer)} cannot be read as "
                               f"{describe(reader)}")
            return
        self._check_logical_type(reader, writer, r_kind, w_kind, path)

        if r_kind == "record":
            self._resolve_record(reader, writer, path)
        elif r_kind == "enum":
            self._resolve_enum(reader, writer, path)
        elif r_kind == "fixed":
            self._check_name(reader, writer, path)
            if reader["size"] != writer["size"]:
                self.problem(path, f"fixed {short_name(reader['name'])} size changed from "
                                   f"{writer['size']} to {reader['size']}")
        elif r_kind == "array":
            self.resolve(reader["items"], writer["items"], f"{path}[]")
        elif r_kind == "map":
            self.resolve(reader["values"], writer["values"], f"{path}{{}}")

    def _resolve_into_union(self, reader: list[Any], writer: Any, path: str) -> None:
        """Spec: the first reader branch that matches the writer type is resolved against it."""
        branch = self._pick_branch(reader, writer)
        if branch is None:
            options = ", ".join(describe(deref(b, self.reader_names)) for b in reader)
            self.problem(path, f"writer type {describe(writer)} matches no branch of the "
                               f"reader union [{options}]")
        else:
            self.resolve(branch, writer, path)

    def _pick_branch(self, reader: list[Any], writer: Any) -> Any:
        branches = [deref(b, self.reader_names) for b in reader]
        same = [b for b in branches if self._matches(b, writer, promote=False)]
        for branch in same:  # prefer the branch with the same logical type
            if logical(branch) == logical(writer):
                return branch
        if same:
            return same[0]
        return next((b for b in branches if self._matches(b, writer, promote=True)), None)

    def _matches(self, reader: Any, writer: Any, *, promote: bool) -> bool:
        """The specification's shallow "match" used to pick a union branch."""
        reader = deref(reader, self.reader_names)
        writer = deref(writer, self.writer_names)
        r_kind, w_kind = kind_of(reader), kind_of(writer)
        if r_kind != w_kind:
            return promote and r_kind in PROMOTIONS.get(w_kind, frozenset())
        if r_kind in NAMED:
            return names_match(reader, writer)
        if r_kind == "array":
            return self._matches(reader["items"], writer["items"], promote=promote)
        if r_kind == "map":
            return self._matches(reader["values"], writer["values"], promote=promote)
        return True

    def _resolve_record(self, reader: dict[str, Any], writer: dict[str, Any],
                        path: str) -> None:
        key = (reader["name"], writer["name"])
        if key in self._records_in_progress:  # a recursive reference: already being checked
            return
        self._records_in_progress.add(key)
        try:
            self._check_name(reader, writer, path)
            written = {field["name"]: field for field in writer["fields"]}
            for field in reader["fields"]:
                names = [field["name"], *field.get("aliases", [])]
                source = next((written[n] for n in names if n in written), None)
                field_path = f"{path}.{field['name']}"
                if source is not None:
                    self.resolve(field["type"], source["type"], field_path)
                elif "default" not in field:
                    self.problem(field_path, "field is not in the writer's schema and has no "
                                             "default")
            # writer fields the reader lacks are skipped when reading: not a problem
        finally:
            self._records_in_progress.discard(key)

    def _resolve_enum(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        self._check_name(reader, writer, path)
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and "default" not in reader:
            self.problem(path, f"enum {short_name(reader['name'])} lacks writer symbol(s) "
                               f"{', '.join(missing)} and has no default")

    def _check_name(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        if not names_match(reader, writer):
            self.problem(path, f"{reader['type']} name {short_name(writer['name'])} became "
                               f"{short_name(reader['name'])} without an alias for the old name")

    def _check_logical_type(self, reader: Any, writer: Any, r_kind: str, w_kind: str,
                            path: str) -> None:
        r_logical, w_logical = logical(reader), logical(writer)
        if r_logical != w_logical:
            if {r_logical, w_logical} == {None, "uuid"} and r_kind == w_kind == "string":
                return
            self.problem(path, f"logicalType changed from {w_logical or 'none'} to "
                               f"{r_logical or 'none'}")
        elif r_logical == "decimal":
            for attribute in ("precision", "scale"):
                if reader.get(attribute, 0) != writer.get(attribute, 0):
                    self.problem(path, f"decimal {attribute} changed from "
                                       f"{writer.get(attribute, 0)} to "
                                       f"{reader.get(attribute, 0)}")
