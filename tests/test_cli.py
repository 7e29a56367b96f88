"""The command line: every stage has its own help, and the rules call only stages that exist."""

import re
import shlex

import pytest

from berl.cli import STAGES, main, stage_parser


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_has_help(stage, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([stage, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: berl {stage}")


def test_the_rules_call_the_command_line_stages(repo):
    called = set()
    for rules in (repo / "workflow/rules").glob("*.smk"):
        called |= set(re.findall(r"python -m berl ([a-z0-9-]+)", rules.read_text()))
    assert called <= set(STAGES)
    # Every stage backs a rule but the stand-alone `evaluate` (training evaluates as it goes)
    # and `fetch-d4rl` (a download, run by hand where there is internet).
    assert set(STAGES) - called == {"evaluate", "fetch-d4rl"}


@pytest.mark.parametrize("preset", ["smoke", "paper"])
def test_every_command_the_rules_run_parses(dry_run, preset):
    """Each job's `python -m berl` command, as the dry run prints it, is accepted by its
    stage's parser: the flags the rules derive from the presets exist, with valid values.
    The D4RL branch is on: its files only need to exist for a dry run."""
    commands = {line.split("python -m berl ", 1)[1].split(" > ")[0]
                for line in dry_run(preset).stdout.splitlines() if "python -m berl " in line}
    # every stage of the default targets (ExORL imports and Minari exports are on demand)
    assert {command.split()[0] for command in commands} == set(STAGES) - {"evaluate", "import-exorl",
                                                                            "export-minari", "fetch-d4rl"}
    for command in commands:
        argv = shlex.split(command)
        args = stage_parser(argv[0]).parse_args(argv[1:])
        assert args.run is STAGES[argv[0]].run
