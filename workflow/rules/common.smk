# Configuration checks, paths, input functions and the rules' shared parts.
import json
import os
import re
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from berl.cli import STAGES
from berl.config import check_config, config_hash, domains, with_defaults
from berl.core.settings import complete
from berl.datasets import d4rl
from berl.distill.settings import D4RLSettings
from berl.datasets.envs import domain_of
from berl.explore.settings import LEARNING_AGENTS
from berl.offline.settings import ALGORITHM_CONFIGS

# Fail before any job is scheduled, naming the offending key.
check_config(config, workflow.source_path("../schemas/config.schema.yaml"))
validate(config, "../schemas/config.schema.yaml")

# Jobs import the package from this checkout, also inside the conda environment of
# `--sdm conda`, which holds the dependencies only (envs/berl.yaml). A copy of the workflow
# without src/ (the tests' scratch copies) leaves the caller's import path as it is.
if os.path.isdir(os.path.join(workflow.basedir, "src")):
    os.environ.update(PYTHONPATH=os.path.join(workflow.basedir, "src"))

PRESET = config["preset"]
# Every stage block completed by its settings dataclass, the one home of the defaults.
SETTINGS = with_defaults(config["presets"][PRESET])
CONFIG_HASH = config_hash(SETTINGS)
RESULTS = f"results/{PRESET}"
LOGS = f"logs/{PRESET}"
BENCH = f"benchmarks/{PRESET}"
TASKS = SETTINGS["tasks"]
DATASETS = {d["name"]: d for d in SETTINGS["datasets"]}
DATASETS_JSON = json.dumps(SETTINGS["datasets"], separators=(",", ":"))  # for `berl` flags
# Replicates of every dataset: results of replicate k live under a `seed<k>` folder.
COLLECTION_SEEDS = list(range(SETTINGS["collect"]["seeds"]))
DATASET_FOLDER = f"{RESULTS}/datasets/{{domain}}/{{dataset}}/seed{{collection_seed}}"


def datasets_json(wildcards):
    """The dataset entries as a param (a function, so that an ExORL `source` keeps its
    `{domain}` instead of being read as a wildcard)."""
    return DATASETS_JSON


wildcard_constraints:
    domain="|".join(domains(SETTINGS)),
    dataset="|".join(DATASETS),
    algorithm="|".join(SETTINGS["algorithms"]),
    task="|".join(TASKS),
    collection_seed=r"\d+",


# Every report records the preset and the configuration hash it was made with.
REPORT_PROVENANCE = f"--preset {PRESET} --config-hash {CONFIG_HASH}"


def runtime(stage):
    return SETTINGS["runtime"][stage]


def log_file(job):
    """A job's log, ``job`` a path below the preset's log folder (wildcards allowed)."""
    return f"{LOGS}/{job}.log"


def benchmark_file(job):
    """A job's Snakemake benchmark record, at its log's path under benchmarks/."""
    return f"{BENCH}/{job}.tsv"


def job_settings(stage, **replaced):
    """The preset's blocks that `berl <stage>` reads, completed, as its one `--settings`
    argument (the job's record of every setting); `replaced` gives a block of a job's own."""
    blocks = {block.key: replaced.get(block.key, SETTINGS[block.key]) for block in STAGES[stage].blocks}
    return f"--settings {shlex.quote(json.dumps(blocks, separators=(',', ':')))}"


def learns(kind):
    """Whether an explorer kind trains networks (and so wants a GPU)."""
    return kind in LEARNING_AGENTS


# Scheduling: the run's longest chain (the encoder's random dataset, the encoder, and the APT
# grid that explores with it) first, then the other collections (the coverage stage waits
# for every dataset of a domain); training and distillation fill the cores around them.
LONGEST_CHAIN, COLLECTION = 10, 5


def collection_priority(kind):
    return LONGEST_CHAIN if kind in ("random", "apt") else COLLECTION


def names_matching(datasets):
    """A wildcard pattern of these dataset names (one that matches nothing when there are none)."""
    return "|".join(dataset["name"] for dataset in datasets) or "(?!)"


IMPORTED = names_matching(d for d in DATASETS.values() if d["agent"] == "exorl")


def exorl_source(wildcards):
    return DATASETS[wildcards.dataset]["source"].format(domain=wildcards.domain)


def collection_groups():
    """The collection jobs of each domain: the collected datasets and their replicates, by
    explorer kind (datasets before replicates), in groups of `collect.group_size`, as
    {job name: (kind, [(dataset, collection seed), ...])}."""
    by_kind = {}
    for seed in COLLECTION_SEEDS:
        for name, dataset in DATASETS.items():
            if dataset["agent"] != "exorl":
                by_kind.setdefault(dataset["agent"], []).append((name, seed))
    size, groups = SETTINGS["collect"]["group_size"], {}
    for kind, members in by_kind.items():
        chunks = [members[start:start + size] for start in range(0, len(members), size)]
        for index, chunk in enumerate(chunks):
            groups[kind if len(chunks) == 1 else f"{kind}{index + 1}"] = (kind, chunk)
    return groups


def encoder_input(kind):
    """APT explores from the domain's pretrained encoder, unless it starts from scratch;
    the other agents need no input."""
    if kind == "apt" and SETTINGS["explore"]["encoder_init"] != "scratch":
        return {"encoder": f"{RESULTS}/encoder/{{domain}}.pt"}
    return {}


def collection_arguments(kind, members):
    """Command-line flags of `berl collect` naming a group's datasets and seeds."""
    flags = [f"--dataset '{json.dumps(DATASETS[name], separators=(',', ':'))}'" for name, _ in members]
    flags.append("--seed " + " ".join(str(DATASETS[name]["seed"] + seed) for name, seed in members))
    flags += [f"--encoder {path}" for path in encoder_input(kind).values()]
    return " ".join(flags)


# The uniform-random policy's returns per task: what no learning scores.
RANDOM_REFERENCE = expand(f"{RESULTS}/eval/random_policy/{{task}}.json", task=TASKS)


def relabelled_files(wildcards):
    """The dataset relabelled for each task of its domain in the preset, by task."""
    folder = DATASET_FOLDER.format(**wildcards)
    return {
        task: f"{folder}/relabelled/{task}.npz"
        for task in TASKS
        if domain_of(task) == wildcards.domain
    }


def evaluation_files(wildcards):
    """Every (dataset, collection seed, algorithm) evaluation of the active preset, in
    configuration order."""
    return [
        f"{RESULTS}/eval/{domain}/{dataset}/seed{seed}/{algorithm}.json"
        for domain in domains(SETTINGS)
        for dataset in DATASETS
        for seed in COLLECTION_SEEDS
        for algorithm in SETTINGS["algorithms"]
    ]


def domain_manifests(wildcards):
    """Every dataset of a domain at the job's collection seed (the first one for a job
    without that wildcard, as the embeddings), by name."""
    seed = getattr(wildcards, "collection_seed", COLLECTION_SEEDS[0])
    return {
        name: f"{DATASET_FOLDER}/manifest.json".format(domain=wildcards.domain, dataset=name, collection_seed=seed)
        for name in DATASETS
    }


def named_paths(paths):
    """A {name: path} input as `name=path` arguments of `berl`."""
    return " ".join(f"{name}={path}" for name, path in paths.items())


def coverage_files(wildcards=None):
    return [
        f"{RESULTS}/coverage/{domain}/seed{seed}/coverage.csv"
        for domain in domains(SETTINGS)
        for seed in COLLECTION_SEEDS
    ]


def embedding_files(wildcards):
    return {
        domain: f"{RESULTS}/coverage/{domain}/{wildcards.method}.csv" for domain in domains(SETTINGS)
    }


DISTILL = SETTINGS["distill"]
DISTILL_TASKS = DISTILL["tasks"] or TASKS  # none: every task of the preset
DISTILL_DATASETS = DISTILL["datasets"] or list(DATASETS)  # none: every dataset of the preset


def generalisation_flag(wildcards):
    """OBD's generalisation study for the objectives that ask for it, at the preset's set size."""
    studied = wildcards.objective in DISTILL["generalisation"] and int(wildcards.synthetic) == DISTILL["synthetic"]
    return "--generalisation" if studied else ""


def distill_inputs(wildcards):
    """The dataset relabelled for the task, and the teacher's agents file."""
    domain, seed = domain_of(wildcards.task), wildcards.collection_seed
    folder = DATASET_FOLDER.format(domain=domain, dataset=wildcards.dataset, collection_seed=seed)
    return {
        "data": f"{folder}/relabelled/{wildcards.task}.npz",
        "agents": f"{RESULTS}/offline/{domain}/{wildcards.dataset}/seed{seed}/{DISTILL['teacher']}/agents.pt",
    }


def distill_files(wildcards):
    """Every distilled set of the preset: dataset x collection seed x distilled task x objective."""
    return [
        f"{RESULTS}/distill/{dataset}/seed{seed}/{task}/{objective}_n{DISTILL['synthetic']}.pt"
        for dataset in DISTILL_DATASETS
        for seed in COLLECTION_SEEDS
        for task in DISTILL_TASKS
        for objective in DISTILL["objectives"]
    ]


def distill_size_files(wildcards):
    """Av-PBC at every size of the sweep, the preset's own size included."""
    sizes = sorted(set(DISTILL["sizes"]) | {DISTILL["synthetic"]})
    return [
        f"{RESULTS}/distill/{dataset}/seed{seed}/{task}/av_pbc_n{size}.pt"
        for dataset in DISTILL_DATASETS
        for seed in COLLECTION_SEEDS
        for task in DISTILL_TASKS
        for size in sizes
    ]


def distill_baseline_files(wildcards):
    return [
        f"{RESULTS}/distill/{dataset}/seed{seed}/{task}/baselines.json"
        for dataset in DISTILL_DATASETS
        for seed in COLLECTION_SEEDS
        for task in DISTILL_TASKS
    ]


# ------------------------------------------------------------------ D4RL (OBD's benchmark)

D4RL = D4RLSettings(**SETTINGS["d4rl"])
D4RL_RESULTS = f"{RESULTS}/d4rl/{{d4rl}}"


def d4rl_datasets():
    """The configured D4RL datasets whose source is present, by folder name. With
    `d4rl.require` an absent source stops the workflow here, before any job, naming it;
    without, it is left out and one line says so."""
    absent = [name for name in D4RL.datasets if not d4rl.source_of(name, D4RL.root).exists()]
    if absent and D4RL.require:
        first = absent[0]
        raise WorkflowError(f"d4rl: {d4rl.source_of(first, D4RL.root)}: no such file"
                            + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else "") + "; "
                            + d4rl.HOW_TO_GET.format(name=first, root=D4RL.root))
    if absent and len(absent) == len(D4RL.datasets):
        print(f"D4RL branch off: none of the {len(absent)} d4rl.datasets is in {D4RL.root}/ or the Minari root "
              "(README, 'D4RL')", file=sys.stderr)
    elif absent:
        print(f"D4RL branch: {len(D4RL.datasets) - len(absent)} of {len(D4RL.datasets)} datasets present; "
              f"left out: {', '.join(absent)} (README, 'D4RL')", file=sys.stderr)
    return {d4rl.folder_name(name): name for name in D4RL.datasets if name not in absent}


D4RL_DATASETS = d4rl_datasets()


wildcard_constraints:
    d4rl="|".join(map(re.escape, D4RL_DATASETS)) or "(?!)",


def d4rl_name(wildcards):
    return D4RL_DATASETS[wildcards.d4rl]


def d4rl_source(wildcards):
    """A D4RL file is the import's input; a Minari dataset is read from Minari's root."""
    name = d4rl_name(wildcards)
    return [] if d4rl.is_minari(name) else [str(d4rl.source_of(name, D4RL.root))]


def d4rl_task(wildcards):
    """The Gymnasium task whose episodes score the dataset's policies."""
    return d4rl.gym_task(d4rl_name(wildcards))


def d4rl_teacher(wildcards):
    return f"{D4RL_RESULTS}/offline/{D4RL.teacher}/agents.pt".format(d4rl=wildcards.d4rl)


def d4rl_teacher_settings():
    """The teacher's `berl train` settings: the offline block's, trained for `d4rl.steps`. A
    teacher with a block of its own in `d4rl` (CORL's Cal-QL, `d4rl.corl_calql`) takes its
    sizes and settings from there, completed with its own defaults (CORL's); another takes
    its switches from the offline block (`offline.<teacher>`)."""
    offline = SETTINGS["offline"] | {"steps": D4RL.steps}
    own = SETTINGS["d4rl"].get(D4RL.teacher)
    if own is not None:
        config = complete(ALGORITHM_CONFIGS[D4RL.teacher], own)
        offline |= {"hidden_dim": config["hidden_dim"], "batch_size": config["batch_size"], D4RL.teacher: config}
    return job_settings("train", offline=offline)


def d4rl_outer_steps(wildcards):
    return D4RL.outer_steps_of(d4rl_name(wildcards), wildcards.objective, DISTILL["outer_steps"])


def d4rl_table_inputs(wildcards):
    """Every D4RL dataset's info, distillations at the preset's size and baselines."""
    folders = [D4RL_RESULTS.format(d4rl=folder) for folder in D4RL_DATASETS]
    return {
        "info": [f"{folder}/info.json" for folder in folders],
        "distilled": [f"{folder}/distill/{objective}_n{DISTILL['synthetic']}.pt"
                      for folder in folders for objective in DISTILL["objectives"]],
        "baselines": [f"{folder}/distill/baselines.json" for folder in folders],
    }


def d4rl_scores_file(wildcards):
    """The D4RL table's scores per run, for the scorecard, when the branch is on."""
    return ["reports/table_obd_d4rl_scores.csv"] if D4RL_DATASETS else []
