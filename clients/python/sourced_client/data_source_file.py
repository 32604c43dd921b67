"""The shared data-source file format, read strictly from the contract's descriptors.

The same format, rules and error texts as the ``sourced`` CLI (cli/src/dataSourceFormat.ts) and
docs/data-source.schema.json: the contract's ``sourced.v1.DataSource`` in proto3 JSON (field names
as in the proto or in lowerCamelCase, enum values by name or number), as JSON or YAML, optionally
wrapped as ``{"data_source": {...}}``, with two shorthands:

* an enum value without its prefix: ``ON_PREM`` for ``LOCATION_ON_PREM``, ``VERIFY_FULL`` for
  ``SSL_MODE_VERIFY_FULL``;
* a secret (``SecretValue``) as a plain string: ``scheme://...`` is a reference,
  ``sourced:enc:...`` an envelope, anything else an inline value.

Unknown fields, values of the wrong type, two members of one oneof and one field given under both
of its names are errors naming the path (and the nearest known field for a typo). The fields come
from the generated descriptors (``sourced.v1.data_source_pb2``), never from a copy.

YAML needs PyYAML (Debian: ``python3-yaml``); it is read with the YAML 1.2 core schema the CLI
uses (``yes``/``on`` stay text, duplicate keys are an error).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

SECRET_VALUE_TYPE = "sourced.v1.SecretValue"
STRUCT_TYPE = "google.protobuf.Struct"
SCHEMA_NOTE = "docs/data-source.schema.json"

Problem = Tuple[str, str]  # (path, message)


class DataSourceFileError(ValueError):
    """A data-source file that cannot be read or is not a valid data source; the text names each path."""


def _descriptor() -> Descriptor:
    from sourced.v1 import data_source_pb2  # the generated modules' root is on sys.path (client.py)

    return data_source_pb2.DataSource.DESCRIPTOR


# ---------------------------------------------------------------------------------------------
# Reading files


def read_data_source_file(path: str) -> Dict[str, Any]:
    """Reads a data source from a JSON or YAML file (``-`` for stdin, read as YAML, which JSON is)
    into the contract's proto3 JSON (proto field names, full enum names, secrets as objects).
    Raises ``DataSourceFileError`` naming every bad path."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as error:
        raise DataSourceFileError(f"cannot read {path}: {error.strerror or error}") from None
    return parse_data_source_text(text, path)


def parse_data_source_text(text: str, path: str) -> Dict[str, Any]:
    """Parses a data source file's text (JSON when ``path`` ends in .json, YAML otherwise) into the contract's JSON."""
    if path.lower().endswith(".json"):
        try:
            doc = json.loads(text)
        except ValueError as error:
            raise DataSourceFileError(f"{path} is not valid JSON: {error}") from None
    else:
        doc = _load_yaml(text, path)
    if not isinstance(doc, dict):
        raise DataSourceFileError(f"{path} must hold a data source object")
    body: Any = doc
    at = ""
    if len(doc) == 1 and next(iter(doc)) in ("data_source", "dataSource"):
        at = next(iter(doc))
        body = doc[at]
    value, problems = normalize_data_source(body, at)
    if problems:
        lines = "\n".join(f"  {p or '(the file)'}: {m}" for p, m in problems)
        raise DataSourceFileError(f"{path} is not a valid data source ({SCHEMA_NOTE}):\n{lines}")
    return value


def normalize_data_source(source: Any, path: str = "") -> Tuple[Dict[str, Any], List[Problem]]:
    """Checks a parsed data source (a dict) and returns it in the contract's JSON, or the problems found (all of them)."""
    problems: List[Problem] = []
    value = _walk_message(source, _descriptor(), path, problems)
    return ({} if problems else (value or {})), problems


def _load_yaml(text: str, path: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise DataSourceFileError(
            f"{path}: reading YAML needs PyYAML (apt-get install python3-yaml, or pip install pyyaml); JSON files need nothing"
        ) from None
    try:
        return yaml.load(text, Loader=_core_schema_loader(yaml))  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataSourceFileError(f"{path} is not valid YAML: {error.problem or error.context}{where}") from None
    except yaml.YAMLError as error:
        raise DataSourceFileError(f"{path} is not valid YAML: {error}") from None


_LOADER = None


def _core_schema_loader(yaml):
    """A SafeLoader with the YAML 1.2 core schema (as the CLI's `yaml` package reads files):
    only true/false, null/~, decimal, 0o and 0x integers and floats are not text, and a key given twice is an error."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER

    class CoreLoader(yaml.SafeLoader):
        pass

    CoreLoader.yaml_implicit_resolvers = {}
    resolvers = [
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        (
            "tag:yaml.org,2002:float",
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            "-+0123456789.",
        ),
    ]
    for tag, pattern, first in resolvers:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern), list(first))

    def construct_int(loader, node):
        v = loader.construct_scalar(node)
        if v.startswith("0o"):
            return int(v[2:], 8)
        if v.startswith("0x"):
            return int(v[2:], 16)
        return int(v, 10)

    def construct_float(loader, node):
        v = loader.construct_scalar(node).lower()
        if v.endswith(".inf"):
            return -math.inf if v.startswith("-") else math.inf
        if v == ".nan":
            return math.nan
        return float(v)

    def construct_mapping(loader, node):
        loader.flatten_mapping(node)
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"Map keys must be unique ({json.dumps(str(key))} is given twice)", key_node.start_mark
                )
            out[key] = loader.construct_object(value_node, deep=True)
        return out

    CoreLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
    CoreLoader.add_constructor("tag:yaml.org,2002:float", construct_float)
    CoreLoader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    _LOADER = CoreLoader
    return CoreLoader


# ---------------------------------------------------------------------------------------------
# The walk (cli/src/dataSourceFormat.ts, the same rules and texts)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _js_json(value: Any) -> str:
    """JSON.stringify's text of a scalar, as the CLI prints it."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return f"the text {_js_json(value)}"
    if isinstance(value, bool):
        return f"boolean {_js_json(value)}"
    if isinstance(value, (int, float)):
        return f"number {_js_json(value)}"
    return f"{type(value).__name__} {value!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _walk_message(value: Any, desc: Descriptor, path: str, problems: List[Problem]) -> Optional[Dict[str, Any]]:
    if desc.full_name == STRUCT_TYPE:
        if not isinstance(value, dict):
            problems.append((path, f"must be an object (any keys), not {_describe(value)}"))
        return value
    if desc.full_name == SECRET_VALUE_TYPE and isinstance(value, str):
        return secret_shorthand(value)
    if not isinstance(value, dict):
        also = (
            " or a string (a scheme:// reference, a sourced:enc: envelope, or the value)"
            if desc.full_name == SECRET_VALUE_TYPE
            else ""
        )
        problems.append((path, f"must be an object{also}, not {_describe(value)}"))
        return None
    out: Dict[str, Any] = {}
    seen: Dict[str, str] = {}
    oneofs: Dict[str, str] = {}
    for key, raw in value.items():
        key = str(key)
        field = next((f for f in desc.fields if f.name == key or f.json_name == key), None)
        at = _join(path, key)
        if field is None:
            problems.append((at, _unknown_field(key, desc)))
            continue
        if field.name in seen:
            problems.append((at, f"is {seen[field.name]} again (one field, two names): keep one"))
            continue
        seen[field.name] = key
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.name in oneofs:
                names = ", ".join(f.name for f in oneof.fields)
                problems.append((at, f"cannot be given with {oneofs[oneof.name]}: they are alternatives ({names}), give one"))
                continue
            oneofs[oneof.name] = key
        if raw is None:
            problems.append((at, "has no value: give one, or leave the field out"))
            continue
        v = _walk_field(raw, field, at, problems)
        if v is not None:
            out[field.name] = v
    return out


def _walk_field(raw: Any, field: FieldDescriptor, path: str, problems: List[Problem]) -> Any:
    if field.label == FieldDescriptor.LABEL_REPEATED:
        return raw  # the data source has no repeated or map fields; a future one is read as the contract's JSON
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _walk_message(raw, field.message_type, path, problems)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_value(raw, field.enum_type, path, problems)
    return _scalar_value(raw, field, path, problems)


def _camel_to_snake(name: str) -> str:
    """protobuf-es' camelToSnakeCase (the shared prefix of an enum's values)."""
    out = ""
    for i, c in enumerate(name):
        if c.isupper() and c.lower() != c:
            out += ("_" if i > 0 else "") + c.lower()
        else:
            out += c
    return out


def enum_prefix(e: EnumDescriptor) -> str:
    """``LOCATION_`` for Location (the prefix every value shares), '' when there is none."""
    prefix = _camel_to_snake(e.name) + "_"
    for v in e.values:
        short = v.name[len(prefix):]
        if not v.name.lower().startswith(prefix) or not short or short[0].isdigit():
            return ""
    return prefix.upper()


def enum_names(e: EnumDescriptor) -> Tuple[List[str], List[str], List[int]]:
    """The names an enum value may be written as: the full names, the short ones, the numbers."""
    prefix = enum_prefix(e)
    full = [v.name for v in e.values]
    short = [n[len(prefix):] if prefix and n.startswith(prefix) else n for n in full]
    return full, short, [v.number for v in e.values]


def _enum_value(raw: Any, e: EnumDescriptor, path: str, problems: List[Problem]) -> Optional[str]:
    full, short, numbers = enum_names(e)
    if _is_number(raw):
        n = _whole(raw)
        if n is not None and n in numbers:
            return full[numbers.index(n)]
    elif isinstance(raw, str):
        if raw in full:
            return raw
        if raw in short:
            return full[short.index(raw)]
    written = _js_json(raw) if isinstance(raw, str) else _describe(raw)
    accepted = [s for s in short if not s.endswith("UNSPECIFIED")]
    near = nearest(raw.upper().replace("-", "_").replace(" ", "_"), accepted + full) if isinstance(raw, str) else None
    prefix = enum_prefix(e)
    message = f"{written} is not one of {', '.join(accepted)}" + (f" (or with the {prefix} prefix)" if prefix else "")
    problems.append((path, message + (f"; did you mean {near}?" if near else "")))
    return None


def _scalar_value(raw: Any, field: FieldDescriptor, path: str, problems: List[Problem]) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        if isinstance(raw, str):
            return raw
        quote = " (quote it)" if _is_number(raw) else ""
        problems.append((path, f"must be a string, not {_describe(raw)}{quote}"))
        return None
    if t == FieldDescriptor.TYPE_BOOL:
        if isinstance(raw, bool):
            return raw
        problems.append((path, f"must be true or false, not {_describe(raw)}"))
        return None
    if t == FieldDescriptor.TYPE_UINT32:
        n = _whole(raw)
        if n is not None and 0 <= n <= 0xFFFFFFFF:
            return n
        problems.append((path, f"must be a whole number from 0 to 4294967295, not {_describe(raw)}"))
        return None
    return raw  # not used by the data source today; the contract's JSON as it is


def secret_shorthand(value: str) -> Dict[str, str]:
    """A secret written as a string: a reference, an envelope (``sourced encrypt``), or the value itself."""
    if value.startswith("sourced:enc:"):
        return {"encrypted": value}
    return {"reference": value} if re.match(r"^[a-z][a-z0-9+.-]*://.", value, re.I) else {"inline_value": value}


def _unknown_field(key: str, desc: Descriptor) -> str:
    names = [f.name for f in desc.fields]
    near = nearest(key, names) or nearest(key, [f.json_name for f in desc.fields])
    field = next((f for f in desc.fields if f.name == near or f.json_name == near), None) if near else None
    return f'unknown field; did you mean "{field.name}"?' if field else f"unknown field ({desc.name} has {', '.join(names)})"


def nearest(word: str, candidates: List[str]) -> Optional[str]:
    """The candidate closest to ``word`` (Damerau-Levenshtein, case-insensitive), when close enough to be a typo."""
    w = word.lower()
    best: Optional[str] = None
    best_distance = math.inf
    for c in candidates:
        d = _distance(w, c.lower())
        if d < best_distance:
            best, best_distance = c, d
    return best if best is not None and best_distance <= max(2, len(best) // 3) else None


def _distance(a: str, b: str) -> int:
    d = [[i] + [0] * len(b) for i in range(len(a) + 1)]
    for j in range(1, len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
