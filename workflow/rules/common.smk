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


def evaluation_files(wildcards):
    """Every (dataset, algorithm, task) evaluation of the active preset."""
    return [
        f"{RESULTS}/eval/{domain_of(task)}/{dataset}/{algorithm}/{task}.json"
        for dataset in DATASETS
        for algorithm in SETTINGS["algorithms"]
        for task in TASKS
    ]
