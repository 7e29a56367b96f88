"""A stage's settings: one dataclass per block of a preset, the only home of their defaults.

A field is declared with :func:`setting`, which keeps its documentation beside its default.
The command line derives a stage's flags from the dataclass (:func:`add_flags`): a flag
left out keeps the dataclass's default, so no default is written twice. The workflow fills
each block of the active preset from the same dataclass (:func:`complete`) and passes it
back to the stage as flags (:func:`flags`). Fields marked ``flag=False`` shape the workflow
(which jobs exist) and are not passed to a job.
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, field, fields
from typing import Any, Literal


def setting(default: Any = MISSING, doc: str = "", *, flag: bool = True) -> Field:
    """A settings field; a list or dict default is copied for every instance."""
    metadata = {"doc": doc, "flag": flag}
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
    """Each field's type, choices, list-ness, default (MISSING if required), doc and flag-ness."""
    hints = typing.get_type_hints(cls)
    described = {}
    for item in fields(cls):
        kind, choices, many = _plain(hints[item.name])
        described[item.name] = {
            "type": kind, "choices": choices, "list": many, "default": default_of(item),
            "doc": item.metadata.get("doc", ""), "flag": item.metadata.get("flag", True),
        }
    return described


def add_flags(parser, cls, *, prefix: str = "", only=None, skip=(), lead: str = "") -> None:
    """A ``--name`` flag per flag field of ``cls`` (``--prefix-name`` with a prefix): booleans
    as ``--name`` / ``--no-name``, lists as several values, choices from ``Literal`` types.
    A field without default is a required flag; the others default to absent, which keeps
    the dataclass's default (:func:`given`). ``lead`` opens every flag's help."""
    for name, info in describe(cls).items():
        if not info["flag"] or name in skip or (only is not None and name not in only):
            continue
        option = "--" + (prefix + name).replace("_", "-")
        required = info["default"] is MISSING
        default = "required" if required else info["default"]
        help_text = f"{info['doc']} (default: {default})" if info["doc"] else f"default: {default}"
        kwargs: dict[str, Any] = {"dest": prefix + name, "help": (lead + help_text).replace("%", "%%")}
        if info["type"] is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = info["type"]
            if info["choices"]:
                kwargs["choices"] = info["choices"]
            if info["list"]:
                kwargs["nargs"] = "+"
        if required:
            kwargs["required"] = True
        else:
            kwargs["default"] = argparse.SUPPRESS
        parser.add_argument(option, **kwargs)


def given(cls, args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (see :func:`add_flags`)."""
    return {item.name: getattr(args, prefix + item.name) for item in fields(cls) if hasattr(args, prefix + item.name)}


def chosen(cls, args: argparse.Namespace, names) -> dict[str, Any]:
    """Fields ``names`` of ``cls``: as given on the command line, else their defaults."""
    described = describe(cls)
    return {name: getattr(args, name) if hasattr(args, name) else described[name]["default"] for name in names}


def from_args(cls, args: argparse.Namespace, *, prefix: str = ""):
    """``cls`` from the flags given; the dataclass's defaults for the others."""
    return cls(**given(cls, args, prefix=prefix))


def complete(cls, block: dict) -> dict:
    """A configuration block with every field of ``cls``: its defaults where the block is
    silent. Keys the dataclass does not know are left for the schema to reject."""
    filled = {name: info["default"] for name, info in describe(cls).items() if info["default"] is not MISSING}
    return filled | block


def flags(cls, block: dict, *, prefix: str = "", only=None, skip=()) -> str:
    """A block's flag fields as command-line flags of a stage (see :func:`add_flags`)."""
    parts = []
    for name, info in describe(cls).items():
        if not info["flag"] or name in skip or name not in block or (only is not None and name not in only):
            continue
        value, option = block[name], "--" + (prefix + name).replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            parts.append(option if value else "--no-" + option[2:])
        elif isinstance(value, (list, tuple)):
            parts.append(f"{option} " + " ".join(str(v) for v in value))
        else:
            parts.append(f"{option} {value}")
    return " ".join(parts)
