"""The command line: every stage has its own help, and the rules call only stages that exist."""

import re

import pytest

from berl.cli import build_parser, main


def stages() -> list[str]:
    parser = build_parser()
    return list(parser._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("stage", stages())
def test_every_stage_has_help(stage, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([stage, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: berl {stage}")


def test_the_rules_call_the_command_line_stages(repo):
    called = set()
    for rules in (repo / "workflow/rules").glob("*.smk"):
        called |= set(re.findall(r"python -m berl ([a-z0-9-]+)", rules.read_text()))
    assert called <= set(stages())
    # Every stage but the stand-alone `evaluate` (training evaluates as it goes) backs a rule.
    assert set(stages()) - called == {"evaluate"}
