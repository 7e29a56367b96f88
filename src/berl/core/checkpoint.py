"""Checkpoints that let a killed job resume where it stopped.

A checkpoint records the settings of the run that wrote it (``run``) and a digest of the
package's code; a later run only resumes from it when both are identical, so changing the
configuration or the code never silently continues a different experiment. A checkpoint
that cannot be read (truncated, corrupt, or refused for needing code to load) is reported
and ignored: the job starts again from the beginning and overwrites it.

Every file is read with ``weights_only=True``: tensors, numbers, strings and plain
containers only, so no file, however crafted, runs code when it is read. The savers write
nothing else (settings as ``dataclasses.asdict``, random states as plain numbers).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
from pathlib import Path

import torch

from berl.core.io import WriteError, atomic_path
from berl.core.log import get_logger
from berl.core.validate import InputError, missing_keys, one_line

log = get_logger(__name__)


def save_torch(path: Path, payload: dict) -> None:
    # Through a file object, the archive's inner folder is not named after the (random)
    # temporary file, so the same payload gives the same bytes.
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        try:
            torch.save(payload, file)
        except RuntimeError as exc:  # torch's writer reports a failed write (a full disk) this way
            raise WriteError(f"{path}: writing failed, is the disk full? ({one_line(exc)})") from exc


def load_torch(path: Path, device: torch.device, required: tuple[str, ...], what: str) -> dict:
    """A dictionary written by :func:`save_torch` holding the keys ``required``; a missing,
    truncated, corrupt or foreign file, or one that needs code to load (a pickled class or
    function), raises InputError naming it (``what`` names its kind)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the zip and pickle readers raise many kinds
        # torch's reader names the class or function a pickle asks for; its other refusals
        # (unknown instructions, bad bytes) are what a damaged file gives.
        needed = re.search(r"GLOBAL (\S+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if needed:
            raise InputError(f"{path}: refused: this {what} file needs code to load (pickled {needed[1]}); "
                             "only tensors, numbers, strings and plain containers are read") from exc
        raise InputError(f"{path}: truncated or corrupt {what} file ({one_line(exc)})") from exc
    missing = missing_keys(saved, required)
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)} in this {what} file")
    return saved


def check_finite(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Every floating-point tensor of ``tensors`` (e.g. a state dict) is finite."""
    for name, tensor in tensors.items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise InputError(f"{path}: {name} holds values that are not finite")


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
        state = load_torch(path, device, ("run",), "checkpoint")
    except InputError as error:
        log.warning("ignoring unreadable checkpoint, starting from the beginning: %s", error)
        return None
    written_by, code = state["run"], state.get("code")
    if code != code_version():
        log.warning("ignoring %s: it was written by another version of the code", path)
        return None
    if written_by != run:
        log.warning("ignoring %s: it was written by a run with other settings", path)
        return None
    log.info("resuming from %s", path)
    return state
