"""The SLURM profile holds to the workflow: it names only rules that exist, it has an entry
for every rule that a cluster must place (a GPU, a long runtime), and every job of the paper
DAG, the D4RL branch included, gets the profile's resources in a dry run through it."""

import re

import pytest
import yaml
from conftest import REPO, copy_workflow, snakemake

PROFILE = REPO / "profiles/slurm/config.yaml"


def set_resources() -> dict[str, dict]:
    return yaml.safe_load(PROFILE.read_text())["set-resources"]


def default_runtime() -> int:
    return yaml.safe_load(PROFILE.read_text())["default-resources"]["runtime"]


def job_resources(dry_run_output: str) -> dict[str, list[dict[str, str]]]:
    """Each rule's jobs, as the resources a dry run prints for them."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for rule, block in re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=\n\n|\n\[)", dry_run_output, re.M | re.S):
        resources = re.search(r"^\s*resources: (.*)$", block, re.M)
        fields = dict(item.split("=", 1) for item in resources.group(1).split(", ")) if resources else {}
        jobs.setdefault(rule, []).append(fields)
    return jobs


@pytest.fixture(scope="module")
def rules_of_every_preset(tmp_path_factory) -> set[str]:
    """The rules of the workflow at each shipped preset (collection rules are named per group)."""
    workdir, names = copy_workflow(tmp_path_factory.mktemp("rules")), set()
    for preset in ("smoke", "quick", "paper"):
        listed = snakemake(workdir, "--list-rules", "--config", f"preset={preset}")
        assert listed.returncode == 0, listed.stderr[-2000:]
        # A rule's name opens its line; its docstring, if any, follows it.
        names |= {line.split()[0] for line in listed.stdout.splitlines() if line[:1].isalpha()}
    return names


def test_every_rule_the_profile_sets_resources_for_exists(rules_of_every_preset):
    assert {"train_offline", "collect_random", "collect_apt1", "table1"} <= rules_of_every_preset
    assert set(set_resources()) - rules_of_every_preset == set()


def test_every_gpu_or_long_rule_at_paper_has_an_entry(dry_run):
    jobs = job_resources(dry_run("paper").stdout)
    assert {"train_offline_d4rl", "distill_d4rl", "collect_apt3"} <= set(jobs)  # the whole DAG was read
    placed = {rule for rule, resources in jobs.items() for job in resources
              if int(job.get("gpu", 0)) > 0 or int(job.get("runtime", 0)) > default_runtime()}
    assert "random_reference" in placed and "table1" not in placed
    assert placed - set(set_resources()) == set()


def test_a_dry_run_through_the_profile_gives_every_job_its_entry(workflow_copy):
    """Every rule of the paper DAG is accepted by the profile, and its jobs carry the entry's
    memory and GPU (a misspelt rule name would leave them with the rule's own)."""
    from berl.datasets.d4rl import OBD_DATASETS

    (workflow_copy / "data/d4rl").mkdir(parents=True)
    for name in OBD_DATASETS:
        (workflow_copy / f"data/d4rl/{name}.hdf5").touch()
    dry = snakemake(workflow_copy, "--profile", "profiles/slurm", "-n", "--forceall", "--slurm-no-account",
                    "--config", "preset=paper")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = job_resources(dry.stdout)
    entries = set_resources()
    assert set(entries) - {"collect_apt"} <= set(jobs)  # paper splits APT into collect_apt1, ...
    for rule, resources in jobs.items():
        for job in resources:
            for key in ("mem_mb", "gpu"):
                if key in entries.get(rule, {}):
                    assert int(job[key]) == entries[rule][key], (rule, key, job)
