"""The Avro schemas in avro/: well formed, backward compatible with every released version,
and decodable by a consumer that has nothing but the .avsc files."""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.utils import generate_many

from infra.messaging.avro import AvroCodec, UndecodableMessageError, load_schema
from infra.messaging.compat import backward_problems

AVRO = Path(__file__).resolve().parents[2] / "avro"
CURRENT = sorted(AVRO.glob("*.avsc"))
RELEASED = sorted((AVRO / "released").glob("*.avsc"))
RELEASED_NAME = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc")
NAMESPACE = "org.clinicbooking.events.v1"


def raw(path: Path) -> dict[str, Any]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def released_versions(name: str) -> list[tuple[int, Path]]:
    found = []
    for path in RELEASED:
        match = RELEASED_NAME.fullmatch(path.name)
        if match and match["name"] == name:
            found.append((int(match["version"]), path))
    return sorted(found)


def released_pairs() -> list[Any]:
    """(current, released) for every released version of every current schema: the codec
    decodes all of them with the current schema, so each must stay readable."""
    return [pytest.param(current, path, id=path.stem)
            for current in CURRENT for _, path in released_versions(current.stem)]


def write_and_read(writer: Any, reader: Any, count: int = 20) -> None:
    for record in generate_many(writer, count):
        out = io.BytesIO()
        schemaless_writer(out, writer, record)
        out.seek(0)
        schemaless_reader(out, writer, reader)
        assert out.read() == b"", "the reader left bytes unread"


def test_there_are_schemas() -> None:
    assert CURRENT
    assert RELEASED


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CURRENT + RELEASED, ids=lambda p: str(p.relative_to(AVRO)))
def test_a_schema_is_a_documented_record(path: Path) -> None:
    schema = raw(path)
    parse_schema(copy.deepcopy(schema))
    assert schema["type"] == "record"
    assert schema.get("namespace") == NAMESPACE
    assert schema.get("doc"), "the record needs a doc"
    undocumented = [f["name"] for f in schema["fields"] if not f.get("doc")]
    assert not undocumented, f"fields without a doc: {undocumented}"


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_a_current_schema_is_named_after_its_file(path: Path) -> None:
    assert raw(path)["name"] == path.stem


@pytest.mark.parametrize("path", RELEASED, ids=lambda p: p.name)
def test_a_released_schema_is_named_name_vN(path: Path) -> None:
    match = RELEASED_NAME.fullmatch(path.name)
    assert match, f"{path.name} is not <Name>.v<N>.avsc"
    assert raw(path)["name"] == match["name"]
    assert (AVRO / f"{match['name']}.avsc").exists(), "a released schema with no current one"


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_a_current_schema_has_released_versions_numbered_from_1(path: Path) -> None:
    versions = [version for version, _ in released_versions(path.stem)]
    assert versions, f"no avro/released/{path.stem}.v1.avsc"
    assert versions == list(range(1, len(versions) + 1))


# --- backward compatibility --------------------------------------------------------------------


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_the_current_schema_reads_the_newest_released_version(path: Path) -> None:
    _, newest = released_versions(path.stem)[-1]
    assert backward_problems(raw(path), raw(newest)) == []


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_the_current_schema_is_released(path: Path) -> None:
    """Producers write with the current schema: it must be on record before a message does,
    or consumers meet a fingerprint no released file has. Copy it to released/<Name>.vN+1."""
    newest = released_versions(path.stem)[-1][1]
    assert load_schema(path).fingerprint == load_schema(newest).fingerprint, (
        f"{path.name} changed since {newest.name}: release it as the next version")


@pytest.mark.parametrize(("current", "released"), released_pairs())
def test_the_current_schema_reads_every_released_version(current: Path,
                                                          released: Path) -> None:
    assert backward_problems(raw(current), raw(released)) == []


@pytest.mark.parametrize(("current", "released"), released_pairs())
def test_data_written_with_a_released_version_reads_with_the_current_schema(
        current: Path, released: Path) -> None:
    write_and_read(parse_schema(raw(released)), parse_schema(raw(current)))


# --- the checker itself ------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "type": "record", "name": "Sample", "namespace": NAMESPACE, "doc": "A test record.",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "count", "type": "int"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"]}},
        {"name": "other_kind", "type": "Kind"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "scores", "type": {"type": "map", "values": "int"}},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    ],
}


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    change(schema)
    return schema


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in schema["fields"] if f["name"] == name)
    return found


def add(new: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda s: s["fields"].append(new)


def retype(name: str, new_type: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: field(s, name).update(type=new_type)


def enum_of(s: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = field(s, "kind")["type"]
    return found


INCOMPATIBLE = {
    "new field without default": add({"name": "extra", "type": "string"}),
    "removed enum symbol": lambda s: enum_of(s).update(symbols=["a"]),
    "int field changed to string": retype("count", "string"),
    "logicalType changed": retype("at", {"type": "long", "logicalType": "timestamp-millis"}),
    "logicalType added": retype("count", {"type": "int", "logicalType": "date"}),
    "record renamed": lambda s: s.update(name="Renamed"),
    "enum renamed": lambda s: (enum_of(s).update(name="Sort"),
                               field(s, "other_kind").update(type="Sort")),
    "nullable field made required": lambda s: (field(s, "note").update(type="string"),
                                               field(s, "note").pop("default")),
    "long narrowed to int": retype("at", "int"),
    "array items int-incompatible": retype("tags", {"type": "array", "items": "int"}),
    "map values narrowed": retype("scores", {"type": "map", "values": "boolean"}),
    "fixed resized": retype("digest", {"type": "fixed", "name": "Digest", "size": 8}),
    "union lost a branch": retype("note", ["null", "int"]),
}

COMPATIBLE = {
    "unchanged": lambda s: None,
    "new field with default": add({"name": "extra", "type": "string", "default": ""}),
    "int to long promotion": retype("count", "long"),
    "int to double promotion": retype("count", "double"),
    "added enum symbol": lambda s: enum_of(s).update(symbols=["a", "b", "c"]),
    "removed enum symbol with enum default": lambda s: enum_of(s).update(
        symbols=["a", "other"], default="other"),
    "new nullable field with default null": add(
        {"name": "extra", "type": ["null", "string"], "default": None}),
    "removed field": lambda s: s["fields"].remove(field(s, "count")),
    "renamed field with alias": lambda s: field(s, "count").update(
        name="total", aliases=["count"]),
    "renamed record with alias": lambda s: s.update(name="Renamed", aliases=["Sample"]),
    "renamed enum with alias": lambda s: (enum_of(s).update(name="Sort", aliases=["Kind"]),
                                          field(s, "other_kind").update(type="Sort")),
    "uuid read as plain string": retype("id", "string"),
    "string read as bytes": retype("note", ["null", "bytes"]),
    "field made nullable": retype("count", ["null", "int"]),
    "map values promoted": retype("scores", {"type": "map", "values": "long"}),
    "array items promoted": retype("tags", {"type": "array", "items": "bytes"}),
}


@pytest.mark.parametrize("change", INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_an_incompatible_change_is_reported(change: Callable[[dict[str, Any]], None]) -> None:
    assert backward_problems(changed(change), copy.deepcopy(BASE)) != []


@pytest.mark.parametrize("change", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_a_compatible_change_passes_and_reads_data(
        change: Callable[[dict[str, Any]], None]) -> None:
    reader = changed(change)
    assert backward_problems(reader, copy.deepcopy(BASE)) == []
    write_and_read(parse_schema(copy.deepcopy(BASE)), parse_schema(reader))


def test_problems_name_the_field_and_the_reason() -> None:
    problems = backward_problems(changed(retype("count", "string")), copy.deepcopy(BASE))
    assert problems == ["Sample.count: writer type int cannot be read as string"]


def test_a_change_inside_a_named_type_referenced_by_name_is_found() -> None:
    # `other_kind` refers to Kind by name; the writer's Kind is defined at `kind`
    reader = changed(lambda s: s["fields"].remove(field(s, "kind")))
    reader["fields"][reader["fields"].index(field(reader, "other_kind"))] = {
        "name": "other_kind", "type": {"type": "enum", "name": "Kind", "symbols": ["b"]}}
    problems = backward_problems(reader, copy.deepcopy(BASE))
    assert len(problems) == 1
    assert problems[0].startswith("Sample.other_kind: enum Kind lacks writer symbol(s) a")


def test_parsed_schemas_are_accepted_too() -> None:
    reader = parse_schema(changed(retype("count", "long")))
    writer = parse_schema(copy.deepcopy(BASE))
    assert isinstance(reader, dict)
    assert isinstance(writer, dict)
    assert backward_problems(reader, writer) == []


def test_a_recursive_record_is_checked_without_looping() -> None:
    def node(value_type: str) -> dict[str, Any]:
        return {"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": value_type},
            {"name": "next", "type": ["null", "Node"], "default": None}]}

    assert backward_problems(node("long"), node("int")) == []
    assert backward_problems(node("int"), node("long")) == [
        "Node.value: writer type long cannot be read as int"]


# --- the codec -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec()


def one_record(schema: Any) -> dict[str, Any]:
    record = next(iter(generate_many(schema, 1)))
    assert isinstance(record, dict)
    return record


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_the_codec_round_trips_every_schema(codec: AvroCodec, path: Path) -> None:
    schema = parse_schema(raw(path))
    record = one_record(schema)
    value = codec.encode(path.stem, record)
    out = io.BytesIO()
    schemaless_writer(out, schema, record)
    out.seek(0)
    expected = schemaless_reader(out, schema, schema)  # with its logical types applied
    assert isinstance(expected, dict)

    assert codec.decode(value) == (path.stem, expected)
    assert codec.decode(codec.encode(path.stem, expected)) == (path.stem, expected)


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_a_consumer_with_only_the_avsc_file_decodes_the_value(codec: AvroCodec,
                                                              path: Path) -> None:
    # no project code from here on: the file, fastavro and the single-object framing
    schema = parse_schema(json.loads(path.read_text(encoding="utf-8")))
    schema_fingerprint = bytes.fromhex(
        fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    record = one_record(schema)

    value = codec.encode(path.stem, record)

    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == schema_fingerprint
    body = io.BytesIO(value[10:])
    decoded = schemaless_reader(body, schema, schema)
    assert body.read() == b""
    assert decoded == codec.decode(value)[1]


def _rabin_fingerprint(data: bytes) -> int:
    """CRC-64-AVRO exactly as the specification gives it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_the_fingerprint_is_the_specifications_little_endian_rabin(codec: AvroCodec,
                                                                  path: Path) -> None:
    canonical = to_parsing_canonical_form(parse_schema(raw(path)))
    expected = _rabin_fingerprint(canonical.encode()).to_bytes(8, "little")
    assert codec.current[path.stem].fingerprint == expected


def test_an_unknown_fingerprint_is_undecodable(codec: AvroCodec) -> None:
    value = codec.encode(CURRENT[0].stem, one_record(parse_schema(raw(CURRENT[0]))))
    unknown = b"\x00" * 8
    assert unknown not in codec.by_fingerprint
    with pytest.raises(UndecodableMessageError, match="unknown schema fingerprint"):
        codec.decode(value[:2] + unknown + value[10:])


def test_a_value_without_the_single_object_marker_is_undecodable(codec: AvroCodec) -> None:
    value = codec.encode(CURRENT[0].stem, one_record(parse_schema(raw(CURRENT[0]))))
    with pytest.raises(UndecodableMessageError, match="not an Avro single-object"):
        codec.decode(b"\x00\x01" + value[2:])
