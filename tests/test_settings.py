"""Every stage setting is declared once: its dataclass holds the type, range, default and
docs, the configuration schema is generated from it, and neither the schema, the command
line nor the rules write a default of their own."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Literal

import pytest
import yaml

from berl.cli import stage_parser
from berl.config import STAGE_SETTINGS, with_defaults
from berl.config import schema_text as config_schema_text
from berl.core import settings
from berl.core.settings import setting
from berl.offline.registry import ALGORITHMS

# Keys that a job gets from its wildcards instead of the preset's block.
PER_JOB = {"distill": {"objective"}}


@pytest.fixture
def config(repo) -> dict:
    return yaml.safe_load((repo / "config.yaml").read_text())


@pytest.fixture
def blocks(repo) -> dict:
    schema = yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text())
    return schema["$defs"]["preset"]["properties"], schema["$defs"]


def test_the_committed_schema_is_generated_from_the_settings(repo):
    """The schema is written by ``python -m berl.config`` from the dataclasses: the file in
    the repository must be what that writes today."""
    committed = (repo / "workflow/schemas/config.schema.yaml").read_text()
    assert committed == config_schema_text(), "run `python -m berl.config` and commit the schema"


def test_every_stage_setting_is_a_key_of_its_schema_block(blocks):
    properties, _ = blocks
    for block, cls in STAGE_SETTINGS.items():
        described = settings.describe(cls)
        assert set(properties[block]["properties"]) == set(described) - PER_JOB.get(block, set()), block


def test_block_schema_by_hand():
    """Types, the default ranges (integers >= 1, numbers > 0, lists non-empty), choices,
    required keys and docs of a small block, written out."""
    assert settings.block_schema(Example) == {
        "type": "object", "additionalProperties": False, "required": ["steps"],
        "properties": {
            "steps": {"description": "required", "type": "integer", "minimum": 1},
            "rate": {"description": "a rate", "type": "number", "exclusiveMinimum": 0},
            "mode": {"description": "a choice", "enum": ["a", "b"]},
            "sizes": {"description": "a list", "type": "array", "items": {"type": "integer", "minimum": 1},
                      "minItems": 1},
            "fast": {"description": "a switch", "type": "boolean"},
            "shape": {"description": "workflow only", "type": "string", "minLength": 1},
        },
    }

    @dataclass
    class Nested:
        steps: int = setting(5, "the block's own")
        seed: int = setting(0, "from 0", minimum=0, required=True)
        share: float = setting(0.5, "in [0, 1]", minimum=0, maximum=1)
        names: list[str] = setting([], "any, no repeats", min_items=0, unique=True)
        per_job: str = setting("x", "a job's own", per_job=True)
        inner: dict = setting({}, "Example's fields but steps", fields_of=Example)

    schema = settings.block_schema(Nested)
    assert schema["required"] == ["seed"]
    assert schema["properties"]["seed"]["minimum"] == 0
    assert {k: v for k, v in schema["properties"]["share"].items() if k != "description"} == {
        "type": "number", "minimum": 0, "maximum": 1}
    assert schema["properties"]["names"] == {"description": "any, no repeats", "type": "array",
                                             "items": {"type": "string", "minLength": 1}, "uniqueItems": True}
    assert "per_job" not in schema["properties"]
    assert list(schema["properties"]["inner"]["properties"]) == ["rate", "mode", "sizes", "fast", "shape"]


def test_the_schema_writes_no_default_of_a_stage_setting(blocks):
    properties, _ = blocks

    def defaults_in(node, where):
        if isinstance(node, dict):
            if "default" in node:
                yield where
            for key, value in node.items():
                yield from defaults_in(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                yield from defaults_in(item, where)

    found = [where for block in STAGE_SETTINGS for where in defaults_in(properties[block], block)]
    assert found == []


# The settings blocks each entry point takes flags from (train: also its algorithms' configs).
STAGE_BLOCKS = {"pretrain-encoder": ["encoder"], "collect": ["collect", "explore"], "import-exorl": ["collect"],
                "train": ["offline", "evaluate"], "evaluate": ["evaluate"], "random-reference": ["evaluate"],
                "coverage": ["coverage"],
                "embed": ["embedding"], "estimator-study": ["estimator_study"], "distill": ["distill"],
                "distill-baselines": ["distill"]}


@pytest.mark.parametrize("stage", sorted(STAGE_BLOCKS))
def test_command_line_flags_of_settings_carry_no_default(stage):
    """Each settings flag is either required or, left out, absent, so that the dataclass's
    default applies; and every flag field of the stage's blocks has its flag."""
    classes = [STAGE_SETTINGS[block] for block in STAGE_BLOCKS[stage]]
    classes += [config for _, config in ALGORITHMS.values()] if stage == "train" else []
    names = {name for cls in classes for name, info in settings.describe(cls).items() if info["flag"]}
    subparser = stage_parser(stage)
    seen = set()
    for action in subparser._actions:
        dest = action.dest if action.dest in names else action.dest.removeprefix("eval_")
        if dest in names:
            seen.add(dest)
            assert action.required or action.default is argparse.SUPPRESS, f"berl {stage} {action.option_strings[0]}"
    skipped = {"distill": {"bc_steps"}, "distill-baselines": {"objective", "outer_steps", "eval_every", "log_every",
                                                               "checkpoint_every", "seed", "seeds"},
               # agents are evaluated over `episodes`, the random policy over `random_episodes`
               "train": {"random_episodes"}, "evaluate": {"random_episodes"}, "random-reference": {"episodes"}}
    assert names - seen == skipped.get(stage, set())


def test_the_rules_write_no_setting_of_their_own(repo):
    """Rules pass whole blocks (stage_flags): no `--flag value` literal or fallback default."""
    names = {name for cls in STAGE_SETTINGS.values() for name in settings.describe(cls)}
    for path in (repo / "workflow/rules").glob("*.smk"):
        text = path.read_text()
        for flag in re.findall(r"--([a-z][a-z-]*) \d", text):
            assert flag.replace("-", "_") not in names, f"{path.name}: --{flag} written with a value"
        assert not re.search(r'SETTINGS\[[^]]+\]\.get\("[a-z_]+", [^)]', text), path.name


def test_mirrored_defaults_are_the_algorithms_own():
    """Where a stage's settings mirror an algorithm's, the default is read from it, not
    restated (the same value here, whatever the algorithm's becomes)."""
    from berl.explore.settings import APTConfig, EncoderConfig, ExploreSettings, PretrainSettings
    from berl.explore.rewards import ParticleReward
    from berl.offline.settings import OfflineConfig, TrainSettings

    explore = ExploreSettings()
    for name in ("hidden_dim", "batch_size", "seed_frames", "encoder_online", "encoder_init",
                 "encoder_nstep_successor", "critic", "replay_running_episode", "replay_partitions"):
        assert getattr(explore, name) == getattr(APTConfig, name)
    assert explore.knn_rms == ParticleReward.knn_rms
    train = TrainSettings(steps=1)
    assert (train.hidden_dim, train.batch_size) == (OfflineConfig.hidden_dim, OfflineConfig.batch_size)
    assert PretrainSettings(steps=1).hidden_dim == EncoderConfig.hidden_dim


def test_with_defaults_fills_only_what_a_block_leaves_out(config):
    filled = with_defaults(config["presets"]["quick"])
    assert filled["coverage"]["be_estimator"] == "paper"  # left out in the preset
    assert filled["coverage"]["points"] == config["presets"]["quick"]["coverage"]["points"]
    assert filled["distill"]["inner_lr"] == 0.1 and filled["distill"]["width"] == 128


# ----------------------------------------------------------------- the helper itself


@dataclass
class Example:
    steps: int = setting(doc="required")
    rate: float = setting(0.5, "a rate")
    mode: Literal["a", "b"] = setting("a", "a choice")
    sizes: list[int] = setting([1, 2], "a list")
    fast: bool = setting(True, "a switch")
    shape: str = setting("dag", "workflow only", flag=False)


def test_flags_round_trip_through_the_command_line():
    parser = argparse.ArgumentParser()
    settings.add_flags(parser, Example)
    block = {"steps": 3, "rate": 0.25, "mode": "b", "sizes": [4, 5], "fast": False, "shape": "x"}
    line = settings.flags(Example, block)
    assert line == "--steps 3 --rate 0.25 --mode b --sizes 4 5 --no-fast"
    assert settings.from_args(Example, parser.parse_args(line.split())) == Example(
        steps=3, rate=0.25, mode="b", sizes=[4, 5], fast=False)
    assert settings.from_args(Example, parser.parse_args(["--steps", "7"])) == Example(steps=7)
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "1", "--mode", "c"])  # choices come from the Literal
    with pytest.raises(SystemExit):
        parser.parse_args([])  # no default: required


def test_list_defaults_are_not_shared():
    first, second = Example(steps=1), Example(steps=1)
    first.sizes.append(9)
    assert second.sizes == [1, 2]
