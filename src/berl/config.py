"""Configuration checks that name the offending key, and the active preset's settings.

The Snakefile calls :func:`check_config` before any job is scheduled, so a typo in a key,
a wrong type or a bad value stops the run at once with one line that says where it is.
The schema holds the configuration's types, ranges and choices; each stage's settings
dataclass (:data:`STAGE_SETTINGS`) holds its defaults, which :func:`with_defaults` fills in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import yaml

from berl.core.settings import complete
from berl.core.validate import InputError
from berl.coverage.settings import CoverageSettings, EmbeddingSettings, StudySettings
from berl.datasets import d4rl, envs
from berl.distill.settings import DistillSettings
from berl.explore.settings import CollectSettings, ExploreSettings, PretrainSettings
from berl.offline.settings import EvaluateSettings, TrainSettings

# Each block of a preset and the dataclass of its settings.
STAGE_SETTINGS = {
    "encoder": PretrainSettings,
    "explore": ExploreSettings,
    "collect": CollectSettings,
    "offline": TrainSettings,
    "evaluate": EvaluateSettings,
    "coverage": CoverageSettings,
    "embedding": EmbeddingSettings,
    "estimator_study": StudySettings,
    "distill": DistillSettings,
    "d4rl": d4rl.D4RLSettings,
}


class ConfigError(InputError):
    """The configuration is invalid; the message names the key."""


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _schema_errors(config: dict, schema: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            where = _key(error.absolute_path)
            for key in unknown:
                known = ", ".join(error.schema.get("properties", {}))
                full = f"{where}.{key}" if error.absolute_path else key
                messages.append(f"config key {full!r}: unknown key (allowed here: {known})")
        else:
            messages.append(f"config key {_key(error.absolute_path)!r}: {error.message}")
    return messages


def check_config(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` and return the settings of its active preset.

    Raises :class:`ConfigError` listing every problem, each naming its key.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = _schema_errors(config, schema)
    if not problems:
        preset = config["preset"]
        if preset not in config["presets"]:
            problems.append(
                f"config key 'preset': {preset!r} is not a preset "
                f"(defined: {', '.join(config['presets'])})"
            )
        else:
            problems.extend(_preset_problems(preset, config["presets"][preset]))
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config["presets"][config["preset"]]


def _preset_problems(name: str, preset: dict) -> list[str]:
    problems = []
    names = [d["name"] for d in preset["datasets"]]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"config key 'presets.{name}.datasets': name {duplicate!r} is used twice")
    random_sets = [d["name"] for d in preset["datasets"] if d["agent"] == "random"]
    if preset["encoder"]["dataset"] not in random_sets:
        problems.append(
            f"config key 'presets.{name}.encoder.dataset': {preset['encoder']['dataset']!r} is not "
            f"a uniform-random dataset of this preset (those are: {random_sets})"
        )
    offline = preset["offline"]
    if offline["batch_size"] > preset["collect"]["transitions"]:
        problems.append(
            f"config key 'presets.{name}.offline.batch_size': {offline['batch_size']} exceeds "
            f"the dataset size presets.{name}.collect.transitions"
        )
    coverage = preset["coverage"]
    if coverage["points"] <= coverage["k"]:
        problems.append(f"config key 'presets.{name}.coverage.points': {coverage['points']} states leave no "
                        f"{coverage['k']}-th neighbour (coverage.k); at least {coverage['k'] + 1} are needed")
    for stage in ("coverage", "embedding"):
        if preset[stage]["points"] > preset["collect"]["transitions"]:
            problems.append(f"config key 'presets.{name}.{stage}.points': {preset[stage]['points']} exceeds "
                            f"the dataset size presets.{name}.collect.transitions")
    distill = preset["distill"]
    if distill["teacher"] not in preset["algorithms"]:
        problems.append(
            f"config key 'presets.{name}.distill.teacher': {distill['teacher']!r} is not one of "
            f"the preset's algorithms {preset['algorithms']}"
        )
    for dataset in preset.get("d4rl", {}).get("datasets", []):
        try:
            d4rl.environment(dataset)
        except InputError as exc:
            problems.append(f"config key 'presets.{name}.d4rl.datasets': {exc}")
    choices = {"tasks": preset["tasks"], "datasets": [d["name"] for d in preset["datasets"]]}
    for key, allowed in choices.items():  # distil only what the preset has
        for value in distill.get(key, []):
            if value not in allowed:
                problems.append(f"config key 'presets.{name}.distill.{key}': {value!r} is not one of "
                                f"the preset's {key} {allowed}")
    return problems


def with_defaults(preset: dict) -> dict:
    """A valid preset with every stage block completed by its dataclass's defaults."""
    return preset | {block: complete(cls, preset.get(block, {})) for block, cls in STAGE_SETTINGS.items()}


def domains(preset: dict) -> list[str]:
    """Domains that the preset's tasks need, in a fixed order."""
    return [d for d in envs.DOMAINS if any(envs.domain_of(t) == d for t in preset["tasks"])]


def config_hash(preset: dict) -> str:
    """Short digest of the active preset's settings, printed on every report."""
    canonical = json.dumps(preset, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
