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

from berl.cli import STAGES, stage_parser
from berl.config import STAGE_SETTINGS, with_defaults
from berl.config import schema_text as config_schema_text
from berl.core import settings
from berl.core.settings import setting
from berl.offline.registry import ALGORITHMS

# Keys that a job gets from its wildcards (or the workflow from another block), not the preset's block.
PER_JOB = {"distill": {"objective"}, "offline": {"corl_calql"}}


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


# Each entry point's arguments besides its settings, enough to parse.
REQUIRED = {
    "pretrain-encoder": ["--manifest", "m", "--out", "o"],
    "collect": ["--domain", "walker", "--dataset", "{}", "--out", "o"],
    "import-exorl": ["--source", "s", "--domain", "walker", "--out", "o"],
    "train": ["--data", "walker_walk=d", "--out", "o"],
    "evaluate": ["--agent", "a", "--out", "o"],
    "random-reference": ["--task", "walker_walk", "--out", "o"],
    "coverage": ["--manifests", "a=m", "--domain", "walker", "--datasets", "[]", "--encoder", "e", "--out", "o"],
    "embed": ["--manifests", "a=m", "--method", "tsne", "--out", "o"],
    "estimator-study": ["--out", "o"],
    "distill": ["--data", "d", "--agents", "a", "--task", "walker_walk", "--out", "o"],
    "distill-baselines": ["--data", "d", "--agents", "a", "--task", "walker_walk", "--out", "o"],
}


def test_every_stage_with_settings_is_listed():
    assert sorted(REQUIRED) == sorted(name for name, stage in STAGES.items() if stage.blocks)


def _flag_and_value(option: str, info: dict) -> list[str]:
    """A flag set to its default (1 for a field without one)."""
    default = info["default"]
    if info["type"] is bool:
        return [option if default else "--no-" + option[2:]]
    if default is settings.MISSING or default is None:
        return [option, "1"]
    return [option, *map(str, default)] if info["list"] else [option, str(default)]


@pytest.mark.parametrize("stage", sorted(REQUIRED))
def test_each_flag_field_of_a_stage_is_a_flag_and_absent_unless_given(stage):
    """Every flag field of the blocks a stage reads is a flag of `berl <stage>`; left out,
    it is absent from the parsed arguments, so that the block (or the dataclass's default)
    gives the value: no default is written on the command line."""
    parser = stage_parser(stage)
    plain = parser.parse_args(REQUIRED[stage])
    flag_fields = [(block.prefix, settings.describe(block.settings)) for block in STAGES[stage].blocks]
    if stage == "train":  # and each algorithm's config, whose fields are flags too
        flag_fields += [("", settings.describe(config)) for _, config in ALGORITHMS.values()]
    for prefix, described in flag_fields:
        for name, info in described.items():
            if not info["flag"]:
                continue
            option = "--" + (prefix + name).replace("_", "-")
            assert not hasattr(plain, prefix + name), f"berl {stage} {option} has a default"
            given = parser.parse_args(REQUIRED[stage] + _flag_and_value(option, info))
            assert hasattr(given, prefix + name), f"berl {stage} {option}"


def test_the_rules_write_no_setting_of_their_own(repo):
    """Rules pass whole blocks (job_settings): no `--flag value` literal or fallback default."""
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


def test_a_block_and_flags_round_trip_through_the_command_line():
    """A block's values, then the flags given over them; a field neither gives keeps its
    default."""
    parser = argparse.ArgumentParser()
    settings.add_flags(parser, Example)
    line = "--steps 3 --rate 0.25 --mode b --sizes 4 5 --no-fast".split()
    assert settings.build(Example, settings.given(Example, parser.parse_args(line))) == Example(
        steps=3, rate=0.25, mode="b", sizes=[4, 5], fast=False)
    block = {"steps": 7, "rate": 2, "shape": "x"}  # JSON writes 2.0 as 2
    built = settings.build(Example, block | settings.given(Example, parser.parse_args(["--mode", "b"])))
    assert built == Example(steps=7, rate=2.0, mode="b", shape="x") and isinstance(built.rate, float)
    assert not hasattr(parser.parse_args([]), "steps")  # absent: the block or the default decides
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "1", "--mode", "c"])  # choices come from the Literal
    with pytest.raises(ValueError, match="steps must be given"):
        settings.build(Example, {})
    with pytest.raises(ValueError, match=r"unknown key\(s\) stpes"):
        settings.build(Example, {"stpes": 1})
    with pytest.raises(ValueError, match="mode: 'c' is not one of"):
        settings.build(Example, {"steps": 1, "mode": "c"})
    with pytest.raises(ValueError, match="sizes: 3 is not a list of int"):
        settings.build(Example, {"steps": 1, "sizes": 3})
    with pytest.raises(ValueError, match="fast: 1 is not bool"):
        settings.build(Example, {"steps": 1, "fast": 1})


def test_a_stage_takes_its_part_of_a_block_and_the_block_names_the_known_keys():
    @dataclass
    class Part:  # a stage that reads only `steps` of Example's block
        steps: int = setting(doc="required")

    assert settings.build(Part, {"steps": 2, "rate": 0.5, "shape": "x"}, block=Example) == Part(steps=2)
    with pytest.raises(ValueError, match=r"unknown key\(s\) stpes"):
        settings.build(Part, {"steps": 2, "stpes": 2}, block=Example)


def test_list_defaults_are_not_shared():
    first, second = Example(steps=1), Example(steps=1)
    first.sizes.append(9)
    assert second.sizes == [1, 2]


def _string_literals(path) -> list[tuple[int, set[str]]]:
    """Every tuple, list or set literal of two or more strings in a Python file, by line."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2:
            if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                found.append((node.lineno, {e.value for e in node.elts}))
    return found


def test_each_name_list_is_written_once(repo):
    """Algorithms, objectives, explorer kinds, rewards and embedding methods are each listed
    in one place; every other module, rule and regex derives from it. A literal holding a
    whole list anywhere else in the package or the workflow is a second copy."""
    from berl.core import constants
    from berl.explore import settings as explore_settings

    lists = {"ALGORITHMS": constants.ALGORITHMS, "PRESET_ALGORITHMS": constants.PRESET_ALGORITHMS,
             "OBJECTIVES": constants.OBJECTIVES, "EMBEDDING_METHODS": constants.EMBEDDING_METHODS,
             "AGENT_NAMES": explore_settings.AGENT_NAMES, "REWARD_KINDS": explore_settings.REWARD_KINDS}
    declarations = {repo / "src/berl/core/constants.py", repo / "src/berl/explore/settings.py"}
    copies = []
    for path in sorted((repo / "src/berl").rglob("*.py")):
        for line, names in _string_literals(path):
            for list_name, declared in lists.items():
                if set(declared) <= names and not (path in declarations and names == set(declared)):
                    copies.append(f"{path.relative_to(repo)}:{line} repeats {list_name}")
    for path in sorted((repo / "workflow").rglob("*.smk")):
        text = path.read_text()
        for list_name, declared in lists.items():
            if all(re.search(rf"\b{name}\b", text) for name in declared):
                copies.append(f"{path.relative_to(repo)} names every one of {list_name}")
    assert not copies, copies


def test_a_job_logs_every_setting_it_runs_with(tmp_path, caplog):
    """The job's provenance: its log holds the completed blocks, the `--settings` block's
    values, a flag's over them, and the defaults of what neither gives."""
    import json
    import logging

    from berl.cli import main

    with caplog.at_level(logging.INFO):
        status = main(["random-reference", "--task", "walker_walk", "--settings", '{"evaluate": {"random_episodes": 2}}',
                       "--random-episodes", "1", "--out", str(tmp_path / "random.json")])
    assert status == 0
    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("settings: ")]
    assert json.loads(line.removeprefix("settings: ")) == {"evaluate": {"episodes": 10, "random_episodes": 1}}
    assert len(json.loads((tmp_path / "random.json").read_text())["returns"]) == 1
