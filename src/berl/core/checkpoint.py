"""Checkpoints that let a killed job resume where it stopped.

A checkpoint records the settings of the run that wrote it (``run``); a later run only
resumes from it when its own settings are identical, so changing the configuration
never silently continues a different experiment.
"""

from __future__ import annotations

from pathlib import Path

import torch

from berl.core.io import atomic_path
from berl.core.log import get_logger

log = get_logger(__name__)


def save_torch(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def save_checkpoint(path: Path, run: dict, state: dict) -> None:
    save_torch(path, {"run": run, **state})


def load_checkpoint(path: Path, run: dict, device: torch.device) -> dict | None:
    """The state saved at ``path`` by a run with settings ``run``, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        log.warning("ignoring unreadable checkpoint %s (%s)", path, exc)
        return None
    if state.get("run") != run:
        log.warning("ignoring %s: it was written by a run with other settings", path)
        return None
    log.info("resuming from %s", path)
    return state
