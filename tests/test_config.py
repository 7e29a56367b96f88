import copy
import json
import re
import shlex

import pytest
import yaml
from conftest import edit_config, shell_commands, snakemake, snapshot

from berl.cli import STAGES
from berl.config import ConfigError, check_config, config_hash, domains, with_defaults
from berl.core.settings import describe


@pytest.fixture
def config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


@pytest.fixture
def schema(repo):
    return repo / "workflow/schemas/config.schema.yaml"


@pytest.mark.parametrize("preset", ["smoke", "quick", "claims", "paper"])
def test_shipped_presets_are_valid(config, schema, preset):
    config["preset"] = preset
    settings = check_config(config, schema)
    assert domains(settings) == (["walker"] if preset in ("quick", "claims") else ["walker", "quadruped"])


def test_presets_differ_only_in_sizes(config):
    smoke, quick, claims, paper = (config["presets"][p] for p in ("smoke", "quick", "claims", "paper"))
    assert smoke.keys() == quick.keys() == claims.keys() == paper.keys()
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
    (lambda c: c["presets"]["smoke"]["collect"].update(transitions="lots"),
     "'presets.smoke.collect.transitions': 'lots' is not of type 'integer'"),
    (lambda c: c["presets"]["smoke"]["datasets"][1].update(alpha=-0.5),
     "'presets.smoke.datasets.1.alpha': -0.5 is less than or equal to the minimum"),
    (lambda c: c["presets"]["smoke"].update(tasks=["walker_walk", "walker_fly"]), "'presets.smoke.tasks.1'"),
    (lambda c: c["presets"]["smoke"].update(datasets=[]), "'presets.smoke.datasets'"),
    (lambda c: c["presets"]["smoke"].update(algorithms=[]), "'presets.smoke.algorithms'"),
    (lambda c: c["presets"]["smoke"]["distill"].update(tasks=["walker_run"]), "walker_run"),
    (lambda c: c["presets"]["smoke"]["distill"].update(datasets=["be_a9.0"]),
     "'presets.smoke.distill.datasets': 'be_a9.0' is not one of"),
    (lambda c: c["presets"]["smoke"]["distill"].update(policy="gaussian"),
     "'presets.smoke.distill.policy': 'gaussian' is not one of"),
    (lambda c: c["presets"]["smoke"]["coverage"].update(points=5),
     "'presets.smoke.coverage.points': 5 states leave no 5-th neighbour"),
    (lambda c: c["presets"]["smoke"]["embedding"].update(points=4000),
     "'presets.smoke.embedding.points': 4000 exceeds the dataset size presets.smoke.collect.transitions"),
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


# --------------------------------------------------------------- the workflow, dry runs


@pytest.mark.parametrize("preset", ["smoke", "quick", "claims", "paper"])
def test_dry_run_lists_every_stage(dry_run, preset):
    printed = dry_run(preset).stdout
    for rule in ("pretrain_encoder", "collect_random", "collect_apt", "relabel", "train_offline", "aggregate",
                 "table1"):
        assert re.search(rf"^{rule}\d* ", printed, re.MULTILINE), rule  # collect_apt1, ... where several


def test_workflow_lints_clean(workflow_copy):
    run = snakemake(workflow_copy, "--lint")
    assert run.returncode == 0 and "good condition" in run.stdout + run.stderr, run.stdout


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_collection_seeds_replicate_every_dataset_downstream(config, dry_run, preset):
    """With collect.seeds n >= 2 (2 at smoke and quick, paper's 3), every dataset is collected
    n times, at its seed and the next ones, into seed0/, seed1/, ..., and each replicate is
    relabelled, trained on and distilled."""
    settings = config["presets"][preset]
    replicates = max(settings["collect"]["seeds"], 2)
    collected = [d for d in settings["datasets"] if d["agent"] != "exorl"]
    # The D4RL branch's jobs (on at smoke and paper) are not those of the collected datasets.
    commands = [c for c in shell_commands(dry_run(preset).stdout) if f"results/{preset}/d4rl/" not in c]
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
            for replicate in range(replicates):
                folder = f"results/{preset}/datasets/{domain}/{dataset['name']}/seed{replicate}"
                assert seed_of.pop(folder) == dataset.get("seed", 0) + replicate, folder
    assert not seed_of

    def count(stage):
        return sum(c.startswith(f"python -m berl {stage} ") for c in commands)

    assert count("train") == replicates * len(settings["datasets"]) * len(domains_) * len(settings["algorithms"])
    assert count("coverage") == replicates * len(domains_)
    distill_tasks = len(settings["distill"].get("tasks", settings["tasks"]))
    distilled = len(settings["distill"].get("datasets", settings["datasets"]))
    assert count("distill-baselines") == replicates * distilled * distill_tasks
    aggregate = next(c for c in commands if c.startswith("python -m berl aggregate"))
    assert "/seed0/" in aggregate and "/seed1/" in aggregate


def test_each_job_gets_its_stage_blocks_as_one_settings_argument(config, dry_run):
    """A job's `--settings` holds the blocks its stage reads, each the preset's block completed
    with the dataclass's defaults; no setting travels as a flag of its own, but for the values
    a job takes from its wildcards (a distillation's objective and N_syn, a D4RL one's outer
    steps)."""
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["collect"]["seeds"] = max(preset["collect"]["seeds"], 2)  # as the dry_run fixture
    completed = with_defaults(preset)
    commands = [c for c in shell_commands(dry_run("smoke").stdout) if "results/smoke/d4rl/" not in c]
    from_wildcards = {"objective", "synthetic", "outer_steps"}
    checked = set()
    for command in commands:
        words = shlex.split(command)
        stage = STAGES[words[3]]
        if not stage.blocks:
            continue
        assert words.count("--settings") == 1, command
        given = json.loads(words[words.index("--settings") + 1])
        assert given == {block.key: completed[block.key] for block in stage.blocks}, command
        names = {name for block in stage.blocks for name in describe(block.settings)} - from_wildcards
        assert not [w for w in words if w.startswith("--") and w[2:].replace("-", "_") in names], command
        checked.add(words[3])
    assert checked == {name for name, stage in STAGES.items() if stage.blocks} - {"import-exorl", "evaluate"}


# ------------------------------------------- a bad configuration stops Snakemake before any job
# One Snakemake process per way a configuration reaches it; the messages of every kind of
# bad value are held in-process above (test_bad_config_names_the_key).

EARLIER_RESULTS = {"results/smoke/returns.csv": "dataset,return\nrandom,1.0\n",
                   "results/smoke/datasets/walker/random/manifest.json": "{}",
                   "reports/table1.pdf": "%PDF-1.4 earlier table"}


def smoke_preset(config):
    return config["presets"]["smoke"]


REFUSED = {
    "a schema violation in config.yaml": (
        lambda c: smoke_preset(c)["offline"].update(stepz=3), [], "'presets.smoke.offline.stepz'"),
    "a cross-check in config.yaml": (
        lambda c: smoke_preset(c)["distill"].update(datasets=["be_a9.0"]), [],
        "'presets.smoke.distill.datasets': 'be_a9.0' is not one of"),
    "a wrong type in an extra --configfile": (
        None, ["--configfile", "config.yaml", "bad.yaml"],
        "'presets.smoke.offline.steps': 'many' is not of type 'integer'"),
    "a --configfile that is not YAML": (
        None, ["--configfile", "config.yaml", "not_yaml.yaml"], "Config file is not valid JSON or YAML"),
    "a bad value on the command line": (None, ["--config", "preset=enormous"], "'preset': 'enormous' is not a preset"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_configuration_stops_snakemake_before_any_job_and_keeps_results(workflow_copy, case):
    """The message names the key once, Snakemake exits with 1 without a traceback, and the
    results and reports of an earlier run are left exactly as they were, with no logs."""
    change, args, message = REFUSED[case]
    for name, text in EARLIER_RESULTS.items():
        (workflow_copy / name).parent.mkdir(parents=True, exist_ok=True)
        (workflow_copy / name).write_text(text)
    (workflow_copy / "bad.yaml").write_text("preset: smoke\npresets:\n  smoke:\n    offline:\n      steps: many\n")
    (workflow_copy / "not_yaml.yaml").write_text("preset: [smoke\n")
    if change is not None:
        edit_config(workflow_copy, change)
    before = snapshot(workflow_copy, "results", "reports")

    run = snakemake(workflow_copy, "--cores", "1", *(args or ["--config", "preset=smoke"]))
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    assert sum(message in line for line in output.splitlines()) == 1, output[-2000:]
    if "not YAML" not in case:  # Snakemake's own message, before the project's check
        assert output.count("invalid configuration") == 1
    assert snapshot(workflow_copy, "results", "reports") == before
    assert not (workflow_copy / "logs").exists()
