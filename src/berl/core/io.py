"""Atomic file output: every artefact is written to a temporary sibling, then renamed.

A job killed half-way therefore leaves either the previous file or nothing, never a
truncated file that a later stage would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from berl.core.validate import InputError, missing_keys, one_line


class WriteError(OSError):
    """Writing an output failed (a full disk, a read-only folder); the previous file is kept."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    ``suffix`` defaults to the target's own suffix, because some writers (numpy's
    ``savez``, matplotlib's ``savefig``) choose their format from it.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
            dir=target.parent,
        )
    except OSError as exc:
        raise WriteError(f"{target}: cannot write ({exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    except WriteError:
        raise
    except OSError as exc:  # the writer's or the rename's: the disk, not the data
        raise WriteError(f"{target}: writing failed ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def temporaries_of(path: str | os.PathLike) -> list[Path]:
    """The temporary files that writes to ``path`` through ``atomic_path`` leave behind when
    their process is killed between creating and renaming them."""
    target = Path(path)
    return sorted(target.parent.glob(f".{glob.escape(target.name)}.*"))


def remove_with_temporaries(path: str | os.PathLike) -> None:
    """Delete ``path`` and its killed writes' temporaries (a finished job's checkpoint)."""
    Path(path).unlink(missing_ok=True)
    for leftover in temporaries_of(path):
        leftover.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike, required: tuple[str, ...] = ()) -> Any:
    """Read a JSON file (an object holding the keys ``required``, when given), naming the
    file if it is unreadable or lacks one."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read JSON ({one_line(exc)})") from exc
    missing = missing_keys(data, required)
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}")
    return data
