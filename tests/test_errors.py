"""A bug is not reported as bad input: bad input, a failed write and a diverging run end in
one line with status 1; anything else shows its traceback and ends with status 2; `--debug`
shows the traceback of every error."""

import dataclasses

import numpy as np
import pytest

from berl import cli
from berl.core.io import WriteError, atomic_path
from berl.core.log import DivergenceError
from berl.core.validate import InputError

ARGV = ["aggregate", "--datasets", "[]", "--out", "returns.csv", "eval.json"]


def failing_with(monkeypatch, error: BaseException) -> None:
    """The aggregate stage raising ``error`` when it runs."""
    def run(args):
        raise error

    monkeypatch.setitem(cli.STAGES, "aggregate", dataclasses.replace(cli.STAGES["aggregate"], run=run))


def shape_bug(args):
    np.zeros((3, 2)) @ np.zeros((3, 2))  # a bug's shape error, a ValueError


@pytest.mark.parametrize("error", [InputError("eval.json: missing final_return"),
                                   WriteError(28, "No space left on device"),
                                   DivergenceError("non-finite loss at step 7 (critic)")],
                         ids=["bad input", "failed write", "divergence"])
def test_expected_failures_end_in_one_line_with_status_1(monkeypatch, capsys, error):
    failing_with(monkeypatch, error)
    assert cli.main(ARGV) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines() == [f"berl aggregate: error: {' '.join(str(error).split())}"]


def test_a_bug_shows_its_traceback_with_status_2(monkeypatch, capsys):
    monkeypatch.setitem(cli.STAGES, "aggregate", dataclasses.replace(cli.STAGES["aggregate"], run=shape_bug))
    assert cli.main(ARGV) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "in shape_bug" in err and "matmul" in err
    assert "error:" not in err  # not dressed as bad input
    assert err.splitlines()[-1].startswith("berl aggregate: internal error (a bug, not bad input): ValueError: matmul")


@pytest.mark.parametrize("error", [FileNotFoundError(2, "No such file or directory", "cache.bin"),
                                   KeyError("members"), RuntimeError("shape mismatch")])
def test_other_errors_are_bugs_too(monkeypatch, capsys, error):
    failing_with(monkeypatch, error)
    assert cli.main(ARGV) == 2
    assert "Traceback" in capsys.readouterr().err


def test_debug_shows_the_traceback_of_bad_input_and_keeps_status_1(monkeypatch, capsys):
    failing_with(monkeypatch, InputError("eval.json: missing final_return"))
    assert cli.main(["--debug", *ARGV]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1] == "berl aggregate: error: eval.json: missing final_return"


def test_a_json_flag_that_does_not_parse_is_bad_input(capsys):
    assert cli.main(["aggregate", "--datasets", "[{name: random", "--out", "returns.csv", "eval.json"]) == 1
    assert capsys.readouterr().err.startswith("berl aggregate: error: --datasets: Expecting property name")


def test_a_failed_write_is_a_write_error_and_keeps_the_previous_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("previous")

    with pytest.raises(WriteError, match="table.csv: writing failed .*No space left on device"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise OSError(28, "No space left on device")
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    with pytest.raises(WriteError, match="cannot write"):
        with atomic_path(target / "inside_a_file.csv"):
            pass
