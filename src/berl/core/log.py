"""Logging set-up shared by every entry point (progress lines go to the rule's log)."""

from __future__ import annotations

import logging
import sys


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def configure_logging() -> None:
    """Progress lines with a time stamp on stderr, for a command-line stage. Only entry
    points call this: a module that configured logging on import would reformat the
    messages of whatever program imports it (Snakemake, when the workflow reads defaults)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr,
            level=logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
            datefmt="%H:%M:%S",
        )


class DivergenceError(RuntimeError):
    """Training produced a non-finite or exploding loss."""


# No loss of a healthy run comes near this (critic targets are bounded by reward / (1 - gamma));
# a diverging one passes it within a few steps of growing exponentially.
EXPLODING = 1e10


def checked_metrics(metrics: dict, step: int) -> str:
    """One log line of loss values (averaged over agents); stops training on NaN, inf or a
    loss beyond EXPLODING, naming the step and the losses.

    Called only at logging intervals: reading the values back synchronises the device.
    """
    values = {key: value.detach().float().cpu() for key, value in metrics.items()}
    if not all(bool(value.isfinite().all()) for value in values.values()):
        raise DivergenceError(f"non-finite loss at step {step}: {values}")
    exploding = {key: value for key, value in values.items() if bool((value.abs() > EXPLODING).any())}
    if exploding:
        raise DivergenceError(f"exploding loss (above {EXPLODING:g}) at step {step}: {exploding}")
    return " ".join(f"{key}={value.mean():.4g}" for key, value in values.items())
