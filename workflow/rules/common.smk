# Configuration checks, paths and input functions shared by every stage.
from snakemake.utils import validate

from berl.config import check_config, config_hash, domains
from berl.envs import domain_of

# Fail before any job is scheduled, naming the offending key.
check_config(config, workflow.source_path("../schemas/config.schema.yaml"))
validate(config, "../schemas/config.schema.yaml")  # also fills the schema's defaults

PRESET = config["preset"]
SETTINGS = config["presets"][PRESET]
CONFIG_HASH = config_hash(SETTINGS)
RESULTS = f"results/{PRESET}"
LOGS = f"logs/{PRESET}"
BENCH = f"benchmarks/{PRESET}"
TASKS = SETTINGS["tasks"]
DATASETS = {d["name"]: d for d in SETTINGS["datasets"]}


wildcard_constraints:
    domain="|".join(domains(SETTINGS)),
    dataset="|".join(DATASETS),
    algorithm="|".join(SETTINGS["algorithms"]),
    task="|".join(TASKS),


def runtime(stage):
    return SETTINGS["runtime"][stage]


def learns(dataset):
    """Whether a dataset's explorer trains networks (and so wants a GPU and an encoder)."""
    return dataset["agent"] != "random"


def collection_inputs(wildcards):
    if learns(DATASETS[wildcards.dataset]):
        return {"encoder": f"{RESULTS}/encoder/{wildcards.domain}.pt"}
    return {}


def agent_arguments(wildcards):
    """Command-line flags of `berl collect` that select a dataset's agent and reward."""
    dataset = DATASETS[wildcards.dataset]
    flags = [f"--agent {dataset['agent']}"]
    if learns(dataset):
        flags.append(f"--encoder {collection_inputs(wildcards)['encoder']}")
        flags += [f"--{key} {dataset[key]}" for key in ("reward", "alpha", "beta", "q") if key in dataset]
    return " ".join(flags)


def evaluation_files(wildcards):
    """Every (dataset, algorithm, task) evaluation of the active preset."""
    return [
        f"{RESULTS}/eval/{domain_of(task)}/{dataset}/{algorithm}/{task}.json"
        for dataset in DATASETS
        for algorithm in SETTINGS["algorithms"]
        for task in TASKS
    ]
