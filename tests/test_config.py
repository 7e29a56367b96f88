import copy
import re
import subprocess
import sys

import pytest
import yaml

from berl.config import ConfigError, check_config, config_hash, domains


@pytest.fixture
def config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


@pytest.fixture
def schema(repo):
    return repo / "workflow/schemas/config.schema.yaml"


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_shipped_presets_are_valid(config, schema, preset):
    config["preset"] = preset
    settings = check_config(config, schema)
    assert domains(settings) == (["walker"] if preset == "quick" else ["walker", "quadruped"])


def test_presets_differ_only_in_sizes(config):
    smoke, quick, paper = (config["presets"][p] for p in ("smoke", "quick", "paper"))
    assert smoke.keys() == quick.keys() == paper.keys()
    assert paper["collect"]["transitions"] == 500_000
    offline = {key: paper["offline"][key] for key in ("steps", "seeds", "batch_size", "hidden_dim")}
    assert offline == {"steps": 100_000, "seeds": 5, "batch_size": 1024, "hidden_dim": 1024}
    assert paper["evaluate"]["episodes"] == 10
    assert paper["algorithms"] == ["td3", "cql", "crr"]


BAD_CONFIGS = [
    (lambda c: c.update(colour="red"), "'colour': unknown key"),
    (lambda c: c["presets"]["smoke"]["offline"].update(stepz=3), "'presets.smoke.offline.stepz'"),
    (lambda c: c["presets"]["smoke"]["offline"].update(steps="many"),
     "'presets.smoke.offline.steps': 'many' is not of type 'integer'"),
    (lambda c: c["presets"]["smoke"]["offline"].update(seeds=0),
     "'presets.smoke.offline.seeds': 0 is less than the minimum"),
    (lambda c: c["presets"]["smoke"].update(tasks=["walker_fly"]), "'presets.smoke.tasks.0'"),
    (lambda c: c["presets"]["smoke"].update(tasks=[]), "'presets.smoke.tasks'"),
    (lambda c: c["presets"]["smoke"]["datasets"].append({"name": "random", "agent": "random"}),
     "'presets.smoke.datasets': name 'random' is used twice"),
    (lambda c: c["presets"]["smoke"]["datasets"][0].update(agent="oracle"),
     "'presets.smoke.datasets.0.agent'"),
    (lambda c: c.update(preset="huge"), "'preset': 'huge' is not a preset"),
    (lambda c: c["presets"]["smoke"]["datasets"][1].update(alpha=0),
     "'presets.smoke.datasets.1.alpha': 0 is less than or equal to the minimum"),
    (lambda c: c["presets"]["smoke"]["datasets"][1].pop("alpha"),
     "'presets.smoke.datasets.1': 'alpha' is a required property"),
    (lambda c: c["presets"]["smoke"]["datasets"][2].update(alpha=0.5),
     "'presets.smoke.datasets.2'"),
    (lambda c: c["presets"]["smoke"]["datasets"][1].update(reward="tsallis"),
     "'presets.smoke.datasets.1.reward'"),
    (lambda c: c["presets"]["smoke"]["encoder"].update(dataset="shannon"),
     "'presets.smoke.encoder.dataset': 'shannon' is not a uniform-random dataset"),
    (lambda c: c["presets"]["smoke"]["offline"].update(batch_size=10**6),
     "'presets.smoke.offline.batch_size'"),
]


@pytest.mark.parametrize("mutate,message", BAD_CONFIGS)
def test_bad_config_names_the_key(config, schema, mutate, message):
    bad = copy.deepcopy(config)
    bad["preset"] = "smoke"
    mutate(bad)
    with pytest.raises(ConfigError) as error:
        check_config(bad, schema)
    assert message in str(error.value)


def test_config_hash_tracks_settings(config):
    smoke = config["presets"]["smoke"]
    changed = copy.deepcopy(smoke)
    changed["offline"]["steps"] += 1
    assert config_hash(smoke) == config_hash(copy.deepcopy(smoke)) != config_hash(changed)


def snakemake(repo, *args):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=repo, capture_output=True, text=True
    )


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_dry_run_lists_every_stage(repo, preset):
    run = snakemake(repo, "-n", "--forceall", "--config", f"preset={preset}")
    assert run.returncode == 0, run.stderr
    for rule in ("pretrain_encoder", "collect_random", "collect_apt", "relabel", "train_offline", "aggregate",
                 "table1"):
        assert re.search(rf"^{rule}\d* ", run.stdout, re.MULTILINE), rule  # collect_apt1, ... where several


def test_bad_value_on_the_command_line_fails_before_any_job(repo):
    run = snakemake(repo, "-n", "--config", "preset=enormous")
    assert run.returncode != 0
    assert "'preset': 'enormous' is not a preset" in run.stdout + run.stderr


def test_workflow_lints_clean(repo):
    run = snakemake(repo, "--lint")
    assert run.returncode == 0 and "good condition" in run.stdout + run.stderr, run.stdout


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_collection_seeds_replicate_every_dataset_downstream(repo, config, tmp_path, preset):
    """With collect.seeds 2, every dataset is collected twice, at its seed and the next, into
    seed0/ and seed1/, and each replicate is relabelled, trained on and distilled."""
    config["preset"] = preset
    config["presets"][preset]["collect"]["seeds"] = 2
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(repo, "-n", "--forceall", "--printshellcmds", "--configfile", str(tmp_path / "two.yaml"))
    assert run.returncode == 0, run.stderr
    settings = config["presets"][preset]
    collected = [d for d in settings["datasets"] if d["agent"] != "exorl"]
    commands = [line.split("Shell command: ", 1)[-1].strip() for line in run.stdout.splitlines()]
    commands = [c for c in commands if c.startswith("python -m berl")]
    domains_ = domains(settings)
    # Each collection job lists its datasets' seeds and folders in the same order.
    def values(words, flag):
        after = words[words.index(flag) + 1:]
        return after[:next(i for i, word in enumerate(after) if word.startswith("--"))]

    seed_of = {}
    for command in (c for c in commands if c.startswith("python -m berl collect ")):
        words = command.split()
        seeds, folders = values(words, "--seed"), values(words, "--out")
        assert len(seeds) == len(folders) == words.count("--dataset"), command
        for seed, folder in zip(seeds, folders):
            assert folder not in seed_of, command
            seed_of[folder] = int(seed)
    for dataset in collected:
        for domain in domains_:
            for replicate in (0, 1):
                folder = f"results/{preset}/datasets/{domain}/{dataset['name']}/seed{replicate}"
                assert seed_of.pop(folder) == dataset.get("seed", 0) + replicate, folder
    assert not seed_of

    def count(stage):
        return sum(c.startswith(f"python -m berl {stage} ") for c in commands)

    assert count("train") == 2 * len(settings["datasets"]) * len(domains_) * len(settings["algorithms"])
    assert count("coverage") == 2 * len(domains_)
    distill_tasks = len(settings["distill"].get("tasks", settings["tasks"]))
    distilled = len(settings["distill"].get("datasets", settings["datasets"]))
    assert count("distill-baselines") == 2 * distilled * distill_tasks
    aggregate = next(c for c in commands if c.startswith("python -m berl aggregate"))
    assert "/seed0/" in aggregate and "/seed1/" in aggregate
