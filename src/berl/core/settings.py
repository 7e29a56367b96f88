"""A stage's settings: one dataclass per block of a preset, the only declaration of its keys.

A field is declared with :func:`setting`, which keeps its documentation, its range and
whether every preset must state it beside its default. The workflow fills each block of
the active preset from the dataclass (:func:`complete`) and hands a job its stage's
completed blocks as one JSON argument, read back with :func:`build`; on the command line,
each field is also a flag (:func:`add_flags`) that overrides the block, and a field that
neither gives keeps the dataclass's default, so no default is written twice. Fields marked
``flag=False`` shape the workflow (which jobs exist) and have no flag. :func:`block_schema`
writes a block's JSON schema (types, ranges, choices, required keys, docs) from the
dataclass, for the configuration schema that ``berl.config`` generates.
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, field, fields
from typing import Any, Literal


def setting(default: Any = MISSING, doc: str = "", *, flag: bool = True, required: bool = False,
            minimum: float | None = None, maximum: float | None = None,
            min_items: int = 1, unique: bool = False, fields_of: type | None = None,
            keys: Any = None, per_job: bool = False) -> Field:
    """A settings field; a list or dict default is copied for every instance.

    Its schema: a number must be positive (> 0) unless a ``minimum`` is given; a list needs
    ``min_items`` entries (``unique``: no repeats); a ``dict`` field holds the fields of
    ``fields_of`` (a dataclass) or one positive integer per name of the Literal ``keys``.
    ``required``: every preset must state it (a field without a default always must).
    ``per_job``: a job's own (from its wildcards, or set by the workflow from another block),
    not a preset's key."""
    metadata = {"doc": doc, "flag": flag, "required": required, "minimum": minimum, "maximum": maximum,
                "min_items": min_items, "unique": unique, "fields_of": fields_of,
                "keys": keys, "per_job": per_job}
    if isinstance(default, (list, tuple)):
        values = list(default)
        return field(default_factory=lambda: list(values), metadata=metadata)
    if isinstance(default, dict):
        entries = dict(default)
        return field(default_factory=lambda: dict(entries), metadata=metadata)
    return field(default=default, metadata=metadata)


def default_of(item: Field) -> Any:
    """A field's default, or MISSING where it has none (a required setting)."""
    if item.default_factory is not MISSING:
        return item.default_factory()
    return item.default


def _plain(hint) -> tuple[type, tuple | None, bool]:
    """(element type, choices, is a list) of a field's type; ``X | None`` reads as X."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is list:
        element, choices, _ = _plain(typing.get_args(hint)[0])
        return element, choices, True
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        return type(choices[0]), choices, False
    return hint, None, False


def describe(cls) -> dict[str, dict]:
    """Each field's type, choices, list-ness, default (MISSING if required), doc, flag-ness
    and schema metadata (see :func:`setting`)."""
    hints = typing.get_type_hints(cls)
    described = {}
    for item in fields(cls):
        kind, choices, many = _plain(hints[item.name])
        described[item.name] = {
            "type": kind, "choices": choices, "list": many, "default": default_of(item),
            "doc": item.metadata.get("doc", ""), "flag": item.metadata.get("flag", True),
            "meta": dict(item.metadata),
        }
    return described


_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _scalar_schema(kind: type, choices: tuple | None, meta: dict) -> dict:
    if choices:
        return {"enum": list(choices)}
    node: dict[str, Any] = {"type": _JSON_TYPES[kind]}
    if kind in (int, float):
        if meta.get("minimum") is not None:
            node["minimum"] = meta["minimum"]
        else:
            node.update({"minimum": 1} if kind is int else {"exclusiveMinimum": 0})
        if meta.get("maximum") is not None:
            node["maximum"] = meta["maximum"]
    elif kind is str:
        node["minLength"] = 1
    return node


def block_schema(cls, *, description: str | None = None, skip=()) -> dict:
    """The JSON schema of a settings block: every field of ``cls`` (but ``skip``) with its
    type, range, choices and doc; a field without default, or marked ``required``, is
    required. A nested dataclass (``fields_of``) leaves out the fields its block sets itself."""
    properties, required = {}, []
    described = describe(cls)
    for name, info in described.items():
        meta = info["meta"]
        if meta.get("per_job") or name in skip:
            continue
        if meta.get("fields_of") is not None:  # another dataclass's fields, nested
            node = block_schema(meta["fields_of"], skip=set(described))
        elif meta.get("keys") is not None:  # one positive integer per name
            node = {"type": "object", "additionalProperties": False,
                    "properties": {key: {"type": "integer", "minimum": 1} for key in typing.get_args(meta["keys"])}}
        else:
            node = _scalar_schema(info["type"], info["choices"], meta)
            if info["list"]:
                node = {"type": "array", "items": node}
                if meta.get("min_items", 1):
                    node["minItems"] = meta.get("min_items", 1)
                if meta.get("unique"):
                    node["uniqueItems"] = True
        if info["doc"]:
            node = {"description": info["doc"], **node}
        properties[name] = node
        if info["default"] is MISSING or meta.get("required"):
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    own_doc = cls.__doc__ if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "(") else None
    if description or own_doc:  # (a dataclass without a docstring gets its signature as one)
        schema = {"description": " ".join((description or own_doc).split()), **schema}
    if required:
        schema["required"] = required
    schema["properties"] = properties
    return schema


def add_flags(parser, cls, *, prefix: str = "", lead: str = "") -> None:
    """A ``--name`` flag per flag field of ``cls`` (``--prefix-name`` with a prefix); see
    :func:`add_flag`."""
    for name, info in describe(cls).items():
        if info["flag"]:
            add_flag(parser, name, info, prefix=prefix, lead=lead)


def add_flag(parser, name: str, info: dict, *, prefix: str = "", lead: str = "") -> None:
    """One field's flag (``info``: its :func:`describe` entry): a boolean as ``--name`` /
    ``--no-name``, a list as several values, choices from its ``Literal`` type. Left out, the
    flag is absent from the parsed arguments (:func:`given`), so the value comes from the
    stage's settings block, else the dataclass's default; ``lead`` opens its help."""
    option = "--" + (prefix + name).replace("_", "-")
    default = "required" if info["default"] is MISSING else info["default"]
    help_text = f"{info['doc']} (default: {default})" if info["doc"] else f"default: {default}"
    kwargs: dict[str, Any] = {"dest": prefix + name, "help": (lead + help_text).replace("%", "%%"),
                              "default": argparse.SUPPRESS}
    if info["type"] is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["type"] = info["type"]
        if info["choices"]:
            kwargs["choices"] = info["choices"]
        if info["list"]:
            kwargs["nargs"] = "+"
    parser.add_argument(option, **kwargs)


def given(cls, args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (see :func:`add_flags`)."""
    return {item.name: getattr(args, prefix + item.name) for item in fields(cls) if hasattr(args, prefix + item.name)}


def missing(cls, values: dict) -> list[str]:
    """The fields of ``cls`` without default that ``values`` leaves out."""
    return [name for name, info in describe(cls).items() if info["default"] is MISSING and name not in values]


def complete(cls, block: dict) -> dict:
    """A configuration block with every field of ``cls``: its defaults where the block is
    silent. Keys the dataclass does not know are left for the schema to reject."""
    filled = {name: info["default"] for name, info in describe(cls).items() if info["default"] is not MISSING}
    return filled | block


def _fits(info: dict, value: Any) -> bool:
    """Whether ``value`` is of the field's type (and among its choices)."""
    if value is None:
        return info["default"] is None
    if info["list"]:
        return isinstance(value, list) and all(_fits({**info, "list": False}, item) for item in value)
    if info["choices"]:
        return value in info["choices"]
    kind = info["type"]
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def build(cls, values: dict, *, block: type | None = None):
    """``cls`` from ``values`` (a stage's block, then its flags), checked: every key a field
    of ``block``, the configuration block's dataclass (``cls`` itself by default), of its
    type, and every field of ``cls`` without default given. The block's keys that ``cls``
    does not take (another stage's) are left out. A bad value raises ValueError naming its
    key."""
    described = describe(cls)
    known = described if block is None else describe(block)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")
    values = {name: value for name, value in values.items() if name in described}
    for name, value in values.items():
        info = described[name]
        if not _fits(info, value):
            wanted = f"one of {list(info['choices'])}" if info["choices"] else info["type"].__name__
            raise ValueError(f"{name}: {value!r} is not {'a list of ' if info['list'] else ''}{wanted}")
    absent = missing(cls, values)
    if absent:
        raise ValueError(f"{', '.join(absent)} must be given")
    for name, value in values.items():  # JSON writes 20.0 as 20
        info = described[name]
        if info["type"] is float and not info["choices"] and value is not None:
            values[name] = [float(v) for v in value] if info["list"] else float(value)
    return cls(**values)
