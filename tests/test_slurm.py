"""A chain of the smoke pipeline submitted through profiles/slurm to a real single-node SLURM.

One dataset besides the encoder's, one task and one algorithm, from collection to Table 1:
every kind of job (GPU and CPU, local and queued) goes through the queue;
tests/test_profile.py shows with a dry run that the profile accepts every other rule.

`.ci/start-slurm` installs and starts SLURM with two stand-in GPUs (it needs root; CI runs it
before the tests). Where SLURM is not running and cannot be started, the test is skipped.
"""

import re
import shlex
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from conftest import SMOKE, edit_config, snakemake

GPU_RULES = {"pretrain_encoder", "train_offline"}
CHAIN_TARGET = "reports/table1.pdf"


def slurm_running() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True)
    return state.returncode == 0 and state.stdout.startswith(("idle", "mix", "alloc"))


@pytest.fixture
def slurm(repo):
    if not slurm_running():
        started = subprocess.run(["bash", str(repo / ".ci/start-slurm")], capture_output=True, text=True)
        if started.returncode != 0:
            pytest.skip(f"no SLURM here and .ci/start-slurm could not start one: {started.stderr.strip()[-300:]}")


def submitted_jobs(workdir) -> list[dict]:
    """Every job SLURM still knows that ran in `workdir`, as scontrol's key=value fields."""
    listing = subprocess.run(["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True, check=True)
    jobs = []
    for line in listing.stdout.splitlines():
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs.append(fields)
    return jobs


def one_dataset_chain(config) -> None:
    """The smoke preset cut to the uniform-random dataset, the encoder trained on it, and BE
    (an APT explorer starting from that encoder, which asks for a GPU): the pipeline's longest
    chain, on walker_walk with TD3."""
    smoke = config["presets"]["smoke"]
    smoke.update(tasks=["walker_walk"], algorithms=["td3"])
    smoke["datasets"] = [d for d in smoke["datasets"] if d["name"] in ("random", "be_a0.5")]
    smoke["distill"].update(teacher="td3", datasets=["random"])


def planned_jobs(workdir) -> dict[str, int]:
    """Jobs per rule of the chain, from a dry run's job statistics."""
    dry = snakemake(workdir, CHAIN_TARGET, "-n", "--quiet", "rules", *SMOKE)
    assert dry.returncode == 0, dry.stderr[-3000:]
    table = (dry.stdout + dry.stderr).split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    counts = {line.split()[0]: int(line.split()[1]) for line in table if line.strip()}
    counts.pop("total", None)
    counts.pop("all", None)
    return counts


def local_rules(workdir) -> set[str]:
    """The rules that `localrules:` keeps off the cluster (the cheap reports)."""
    names = set()
    for rules in (workdir / "workflow/rules").glob("*.smk"):
        for block in re.findall(r"^localrules:\n((?:    \w+,?\n)+)", rules.read_text(), flags=re.MULTILINE):
            names |= set(re.findall(r"\w+", block))
    return names


def rule_of(comment: str, rules: set[str]) -> str:
    return max((rule for rule in rules if comment == f"rule_{rule}" or comment.startswith(f"rule_{rule}_")), key=len)


@pytest.mark.slow
def test_a_chain_of_the_pipeline_runs_through_the_slurm_profile(slurm, workflow_copy):
    edit_config(workflow_copy, one_dataset_chain)
    planned = planned_jobs(workflow_copy)
    run = snakemake(workflow_copy, "--profile", "profiles/slurm", CHAIN_TARGET, "--slurm-status-command", "squeue",
                    "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "5", "--jobs", "8", *SMOKE)
    assert run.returncode == 0, run.stderr[-4000:]
    table = pd.read_csv(workflow_copy / "reports/table1_full.csv", comment="#")
    assert set(table.dataset) == {"random", "be_a0.5"} and table["walker_walk_mean"].notna().all()

    jobs = submitted_jobs(workflow_copy)
    by_rule: dict[str, list[dict]] = {}
    for job in jobs:
        assert job["JobState"] == "COMPLETED", job
        by_rule.setdefault(rule_of(job["Comment"], set(planned)), []).append(job)
    # Every job of the DAG but the target and the local (report) rules ran as one SLURM job;
    # the reports ran where Snakemake runs, none of them queued.
    local = local_rules(workflow_copy)
    assert {"aggregate", "table1", "table2", "reproduction", "fig_coverage"} <= local
    assert {"collect_random", "collect_apt", "pretrain_encoder", "relabel", "train_offline",
            "random_reference"} <= set(by_rule)
    assert {rule: len(submissions) for rule, submissions in by_rule.items()} == {
        rule: count for rule, count in planned.items() if rule not in local}
    for rule, submissions in by_rule.items():
        for job in submissions:
            asks_gpu = "gpu" in job.get("TresPerJob", "")
            learning_collector = rule.startswith("collect_") and rule != "collect_random"
            assert asks_gpu == (rule in GPU_RULES or learning_collector), (rule, job["Comment"], job.get("TresPerJob"))


# ------------------------------------------------------------- requeued and cancelled jobs


def sbatch(command: list, workdir, log) -> str:
    """Submit ``berl <command>`` as a requeueable job that appends to ``log``; its id."""
    wrapped = shlex.join([sys.executable, "-m", "berl", *map(str, command)])
    submitted = subprocess.run(["sbatch", "--parsable", "--requeue", "--open-mode=append", f"--output={log}",
                                f"--chdir={workdir}", f"--wrap={wrapped}"], capture_output=True, text=True, check=True)
    return submitted.stdout.strip().split(";")[0]


def job_state(job_id: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", job_id, "--oneliner"], capture_output=True, text=True)
    found = re.search(r"JobState=(\S+)", shown.stdout)
    return found.group(1) if found else "UNKNOWN"


ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")


def wait_until(condition, what: str, job: str) -> None:
    """Poll until ``condition`` holds, failing only if ``job`` ends first: no deadline, so a
    slow machine is only slow."""
    while not condition():
        state = job_state(job)
        assert condition() or state not in ENDED, f"job {job} ended ({state}) before {what}"
        time.sleep(0.2)


def training(data, out) -> list:
    return ["train", "--algorithm", "td3", "--data", f"walker_walk={data}", "--seeds", 2, "--steps", 3000,
            "--hidden-dim", 32, "--batch-size", 32, "--log-every", 100, "--checkpoint-every", 100,
            "--eval-every", 1500, "--eval-episodes", 1, "--out", out]


@pytest.fixture(scope="module")
def uninterrupted(walker_teacher, tmp_path_factory):
    """The agents of the training job run once without interruption."""
    data, _ = walker_teacher
    out = tmp_path_factory.mktemp("uninterrupted") / "agents.pt"
    run = subprocess.run([sys.executable, "-m", "berl", *map(str, training(data, out))], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("interruption", ["scontrol requeue", "scancel"])
def test_a_requeued_or_cancelled_job_resumes_from_its_checkpoint(slurm, walker_teacher, uninterrupted, tmp_path,
                                                                 interruption):
    """A training job interrupted once its first checkpoint exists: requeued by SLURM (as on
    preemption) it runs again by itself; cancelled, it is submitted again (as Snakemake's
    rerun does). Either way it resumes and ends with the uninterrupted run's agents."""
    data, _ = walker_teacher
    out, log = tmp_path / "agents.pt", tmp_path / "job.log"
    job = sbatch(training(data, out), tmp_path, log)
    wait_until(lambda: out.with_name(out.name + ".ckpt").exists(), "the first checkpoint", job)
    subprocess.run([*interruption.split(), job], check=True)
    if interruption == "scontrol requeue":
        # SLURM holds a requeued job back for about two minutes; the point is that it runs
        # again by itself, not that back-off, so it is released once its first run is killed.
        # Its new start must fall in a later second than that kill, or the node refuses the new
        # run's credential as revoked with the old one ("Job credential revoked").
        wait_until(lambda: "DUE TO JOB REQUEUE" in log.read_text() and job_state(job) == "PENDING",
                   "its first run is killed and it is back in the queue", job)
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now+2"], check=True)
    if interruption == "scancel":
        wait_until(lambda: job_state(job) == "CANCELLED", "it is cancelled", job)
        assert not out.exists()
        job = sbatch(training(data, out), tmp_path, log)
    wait_until(lambda: job_state(job) in ENDED, "it ends", job)
    assert job_state(job) == "COMPLETED", log.read_text()[-3000:]
    assert "resuming from" in log.read_text()

    expected, resumed = torch.load(uninterrupted), torch.load(out)
    for key, value in expected["agent"].items():
        torch.testing.assert_close(resumed["agent"][key], value, rtol=0, atol=0)
