"""Checkpoints that let a killed job resume where it stopped.

A checkpoint records the settings of the run that wrote it (``run``) and a digest of the
package's code; a later run only resumes from it when both are identical, so changing the
configuration or the code never silently continues a different experiment. A checkpoint
that cannot be read (truncated, corrupt) is reported and ignored: the job starts again
from the beginning and overwrites it.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import torch

from berl.core.io import atomic_path
from berl.core.log import get_logger

log = get_logger(__name__)


def save_torch(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


@functools.cache
def code_version() -> str:
    """A digest of the package's source files."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def save_checkpoint(path: Path, run: dict, state: dict) -> None:
    save_torch(path, {"run": run, "code": code_version(), **state})


def load_checkpoint(path: Path, run: dict, device: torch.device) -> dict | None:
    """The state saved at ``path`` by a run with settings ``run``, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        written_by, code = state["run"], state.get("code")
    except Exception as exc:  # noqa: BLE001 - whatever broke the file, the run starts afresh
        log.warning("ignoring unreadable checkpoint %s, starting from the beginning (%s: %s)",
                    path, type(exc).__name__, exc)
        return None
    if code != code_version():
        log.warning("ignoring %s: it was written by another version of the code", path)
        return None
    if written_by != run:
        log.warning("ignoring %s: it was written by a run with other settings", path)
        return None
    log.info("resuming from %s", path)
    return state
