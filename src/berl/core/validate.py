"""One check for every array file a stage reads.

A data file (episodes, relabelled transitions, imported ExORL, D4RL or Minari data) is a
set of named arrays with one row per step. Before a stage uses one, :func:`check_arrays`
makes sure that the arrays it needs are there, hold numbers, agree in their number of rows
and in their widths with each other and with the environment, hold at least one row, and
are finite. A failure raises :class:`InputError` with one line naming the file, the array
and, for a value, the first bad row; the command line prints it as
``berl <stage>: error: <path>: ...`` and exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class InputError(Exception):
    """A file or argument given to a stage (dataset, agents, encoder, record, table, flag,
    configuration value) is missing, truncated, corrupt or inconsistent.

    Not a ValueError: the command line prints only these (and failed writes and diverging
    runs) as one line, so a bug's ValueError (a shape mismatch) must never pass for one."""


ANY_WIDTH = -1


@dataclass(frozen=True)
class Array:
    """What one array must look like: ``columns`` None for one value per row ((N,) or
    (N, 1)), ANY_WIDTH for (N, any), else (N, columns)."""

    name: str
    columns: int | None = None
    optional: bool = False


def one_line(exc: BaseException) -> str:
    """An exception as one short line (some readers raise messages of many lines)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def missing_keys(data, required: tuple[str, ...]) -> list[str]:
    """The keys of ``required`` that ``data`` (read from a file) lacks; all of them if it is
    not a mapping."""
    return [key for key in required if key not in data] if isinstance(data, dict) else list(required)


def width(arrays: dict[str, np.ndarray], name: str) -> int:
    """The columns of a 2-D array, to hold its companions to (ANY_WIDTH if it has none)."""
    array = arrays.get(name)
    return array.shape[1] if array is not None and array.ndim == 2 else ANY_WIDTH


def first_bad_row(array: np.ndarray) -> int | None:
    """The first row holding a NaN or an infinity, if any."""
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def check_arrays(where, arrays: dict[str, np.ndarray], expected: list[Array], *, what: str = "",
                 rows: int | None = None, rows_from: str = "expected") -> None:
    """Check ``arrays`` (read from ``where``) against ``expected``; ``what`` names the
    source of the expected widths (e.g. "walker_walk"), ``rows`` fixes the row count
    (``rows_from`` says why, e.g. "the name promises")."""
    missing = [spec.name for spec in expected if not spec.optional and spec.name not in arrays]
    if missing:
        raise InputError(f"{where}: missing arrays {missing}")
    present = [spec for spec in expected if spec.name in arrays]
    for spec in present:
        array = np.asarray(arrays[spec.name])
        if array.ndim == 0:
            raise InputError(f"{where}: {spec.name} is a single value, one row per step expected")
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise InputError(f"{where}: {spec.name} holds {array.dtype}, not numbers")
        if spec.columns is None and array.shape[1:] not in ((), (1,)):
            raise InputError(f"{where}: {spec.name} has shape {array.shape}, one value per row expected")
        if spec.columns == ANY_WIDTH and array.ndim != 2:
            raise InputError(f"{where}: {spec.name} has shape {array.shape}, (rows, columns) expected")
        if spec.columns not in (None, ANY_WIDTH) and (array.ndim != 2 or array.shape[1] != spec.columns):
            source = f", {what} has {spec.columns} columns" if what else f", {spec.columns} columns expected"
            raise InputError(f"{where}: {spec.name} has shape {array.shape}{source}")
    counts = {spec.name: len(arrays[spec.name]) for spec in present}
    reference_name, reference = (None, rows) if rows is not None else next(iter(counts.items()))
    for name, count in counts.items():
        if count != reference:
            against = f"{reference_name} {reference}" if reference_name else f"{rows_from} {reference}"
            raise InputError(f"{where}: {name} has {count} rows, {against}")
    if reference == 0:
        raise InputError(f"{where}: no transitions ({next(iter(counts))} has 0 rows)")
    for spec in present:
        bad = first_bad_row(np.asarray(arrays[spec.name], dtype=np.float64))
        if bad is not None:
            raise InputError(f"{where}: {spec.name} row {bad} is not finite")
