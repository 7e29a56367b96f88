"""Bad input fails early and names the culprit without touching results; killed jobs resume.
(A bad configuration is refused before any job: tests/test_config.py.)

The runs here go through the same entry points as the Snakemake rules (`python -m berl ...`)
in separate processes, so a SIGKILL is a real one: no cleanup code runs.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from conftest import SMOKE, snakemake, snakemake_argv, snapshot

from berl.core.log import DivergenceError, checked_metrics
from berl.datasets import storage
from berl.distill.obd import Distiller, distill
from berl.distill.settings import DistillRun
from berl.explore.collect import CHECKPOINT


def berl(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "berl", *map(str, args)], capture_output=True, text=True,
                          **kwargs)


def error_of(run) -> str:
    """The one error line a failed stage prints (after any progress logging)."""
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("berl ")]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    return errors[0]


def test_a_truncated_dataset_is_named_and_the_previous_agents_are_kept(walker_teacher, tmp_path):
    data, _ = walker_teacher
    truncated = tmp_path / "walker_walk.npz"
    truncated.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    previous = tmp_path / "agents.pt"
    previous.write_bytes(b"agents of an earlier run")
    run = berl("train", "--data", f"walker_walk={truncated}", "--out", previous, "--steps", 10,
               "--hidden-dim", 16, "--batch-size", 16)
    assert error_of(run).startswith(f"berl train: error: {truncated}: truncated or corrupt file")
    assert previous.read_bytes() == b"agents of an earlier run"


def test_a_corrupt_episode_is_named_and_the_previous_relabelling_is_kept(walker_random, tmp_path):
    dataset = tmp_path / "random"
    shutil.copytree(walker_random.parent, dataset)
    episode = sorted((dataset / "episodes").glob("*.npz"))[1]
    episode.write_bytes(b"\x00garbage" * 100)
    previous = tmp_path / "walker_walk.npz"
    previous.write_bytes(b"earlier relabelling")
    run = berl("relabel", "--manifest", dataset / "manifest.json", "--task", "walker_walk", "--out", previous)
    assert error_of(run).startswith(f"berl relabel: error: {episode}: truncated or corrupt file")
    assert previous.read_bytes() == b"earlier relabelling"


def test_a_missing_encoder_is_named_before_collecting(tmp_path):
    run = berl("collect", "--domain", "walker", "--dataset", '{"agent": "apt", "reward": "shannon"}',
               "--encoder", tmp_path / "encoder.pt", "--transitions", 2000, "--out", tmp_path / "shannon")
    assert error_of(run).startswith("berl collect: error:") and str(tmp_path / "encoder.pt") in error_of(run)
    assert not list((tmp_path / "shannon").rglob("*.npz")) and not (tmp_path / "shannon/manifest.json").exists()


def killed_then_resumed(command, checkpoint, output, run_on=0.0):
    """Run `command`, SIGKILL it `run_on` seconds after its first checkpoint exists, then run it
    to the end."""
    job = subprocess.Popen([sys.executable, "-m", "berl", *map(str, command)], stderr=subprocess.PIPE, text=True)
    while not checkpoint.exists():
        assert job.poll() is None, f"finished before its first checkpoint: {job.stderr.read()[-2000:]}"
        time.sleep(0.02)
    time.sleep(run_on)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL
    assert not output.exists()
    rerun = berl(*command)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming" in rerun.stderr
    assert not checkpoint.exists()


def test_a_batched_collection_killed_with_sigkill_resumes_to_the_same_datasets(tmp_path):
    def command(name):
        return ["collect", "--domain", "walker", "--dataset", '{"agent": "rnd"}', "--dataset", '{"agent": "rnd"}',
                "--transitions", 3000, "--hidden-dim", 32, "--batch-size", 64, "--seed-frames", 500,
                "--seed", 5, 6, "--out", tmp_path / name / "a", tmp_path / name / "b"]

    assert berl(*command("whole")).returncode == 0
    killed_then_resumed(command("killed"), tmp_path / "killed" / "a" / CHECKPOINT,
                        tmp_path / "killed" / "b" / storage.MANIFEST, run_on=0.5)  # into the second episode
    for member in ("a", "b"):
        whole = storage.read_manifest(tmp_path / "whole" / member / storage.MANIFEST)[1]
        resumed = storage.read_manifest(tmp_path / "killed" / member / storage.MANIFEST)[1]
        assert len(whole) == len(resumed) == 3
        for a, b in zip(whole, resumed):
            a, b = storage.load_episode(a), storage.load_episode(b)
            for key in storage.EPISODE_KEYS:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_training_killed_with_sigkill_resumes_to_the_same_agents(walker_teacher, tmp_path):
    data, _ = walker_teacher

    def command(name):
        return ["train", "--algorithm", "td3", "--data", f"walker_walk={data}", "--seeds", 2,
                "--steps", 1500, "--hidden-dim", 32, "--batch-size", 32, "--log-every", 100,
                "--checkpoint-every", 100, "--eval-every", 750, "--eval-episodes", 1,
                "--out", tmp_path / f"{name}.pt", "--eval-out", tmp_path / f"{name}.json"]

    assert berl(*command("reference")).returncode == 0
    killed_then_resumed(command("resumed"), tmp_path / "resumed.pt.ckpt", tmp_path / "resumed.pt")
    reference, resumed = torch.load(tmp_path / "reference.pt"), torch.load(tmp_path / "resumed.pt")
    for key, value in reference["agent"].items():
        torch.testing.assert_close(resumed["agent"][key], value, rtol=0, atol=0)
    curves = [yaml.safe_load((tmp_path / f"{name}.json").read_text())["curve"] for name in ("reference", "resumed")]
    assert curves[0] == curves[1]


def test_distillation_killed_with_sigkill_resumes_to_the_same_set(walker_teacher, tmp_path):
    data, agents = walker_teacher

    def command(name):
        return ["distill", "--data", data, "--agents", agents, "--task", "walker_walk", "--synthetic", 16,
                "--layers", 3, "--width", 16, "--inner-steps", 5, "--minibatches", 2, "--batch-size", 64,
                "--outer-steps", 300, "--checkpoint-every", 20, "--log-every", 20, "--eval-every", 150,
                "--eval-seeds", 2, "--eval-episodes", 1, "--seeds", 1, "--out", tmp_path / f"{name}.pt"]

    assert berl(*command("reference")).returncode == 0
    killed_then_resumed(command("resumed"), tmp_path / "resumed.pt.ckpt", tmp_path / "resumed.pt")
    reference, resumed = torch.load(tmp_path / "reference.pt"), torch.load(tmp_path / "resumed.pt")
    for key in ("observation", "action"):
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=0)
    assert resumed["curve"] == reference["curve"] and resumed["losses"] == reference["losses"]


@pytest.mark.parametrize("value, problem", [(float("nan"), "non-finite"), (float("inf"), "non-finite"),
                                            (3e12, "exploding")])
def test_diverging_losses_are_diagnosed(value, problem):
    with pytest.raises(DivergenceError, match=f"{problem} loss .*at step 7.*critic"):
        checked_metrics({"actor": torch.tensor([0.1, 0.2]), "critic": torch.tensor([1.0, value])}, 7)
    assert checked_metrics({"critic": torch.tensor([1.0, 3.0])}, 7) == "critic=2"


def test_a_diverging_distillation_stops_without_an_output(walker_teacher, tmp_path, monkeypatch):
    data, agents = walker_teacher
    monkeypatch.setattr(Distiller, "step", lambda self, real, generator: torch.tensor(float("nan")))
    with pytest.raises(DivergenceError, match="non-finite loss at step 4"):
        distill(data, agents, "walker_walk",
                DistillRun(synthetic=8, width=8, inner_steps=2, eval_episodes=0, outer_steps=8, seed=0, seeds=1,
                           log_every=4, checkpoint_every=1000, eval_every=0),
                out_path=tmp_path / "set.pt", device=torch.device("cpu"))
    assert not (tmp_path / "set.pt").exists()


# ------------------------------------------------------------------ a whole run killed

KILL_TARGET = "results/smoke/coverage/walker/seed0/coverage.csv"  # 8 jobs: walker's collections, encoder, coverage


def smoke(*args) -> list[str]:
    return snakemake_argv("--cores", "2", *args, *SMOKE)


def kill_part_way(workdir, command: list[str], fraction: float) -> str:
    """Run ``command`` in its own process group and SIGKILL the whole group (Snakemake and its
    jobs) once ``fraction`` of its steps are done; return what it printed."""
    log = workdir / "killed.log"
    with log.open("w") as out:
        run = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            steps = re.findall(r"(\d+) of (\d+) steps", log.read_text())
            if steps and int(steps[-1][0]) >= fraction * int(steps[-1][1]):
                break
            assert run.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    return log.read_text()


def comparable(root) -> dict[str, bytes]:
    """Every output under results/ and reports/; an episode by its dataset and index (its name
    carries the time it was written), a manifest without those names."""
    files = {}
    for key, data in snapshot(root, "results", "reports").items():
        path = root / key
        if path.parent.name == storage.EPISODE_DIR:
            index, _ = storage.parse_episode_name(path)
            files[f"{path.parent.relative_to(root)}/{index}"] = b"".join(
                array.tobytes() for array in storage.load_episode(path).values())
        elif path.name == storage.MANIFEST:
            manifest = yaml.safe_load(data)
            manifest.pop("episodes")
            files[key] = repr(sorted(manifest.items())).encode()
        else:
            files[key] = data
    return files


def outputs_of(workdir, target: str) -> list[str]:
    """The files the jobs of ``target``'s DAG declare, from a dry run."""
    dry = snakemake(workdir, "-n", "--forceall", target, *SMOKE)
    assert dry.returncode == 0, dry.stderr[-3000:]
    return [path for line in dry.stdout.splitlines() if line.strip().startswith("output: ")
            for path in line.split(": ", 1)[1].split(", ")]


@pytest.mark.slow
def test_a_run_killed_part_way_recovers_with_unlock_and_ends_identical(workflow_copy, smoke_run):
    """The README's recovery: after a SIGKILL of the whole run the next run stops (lock or incomplete files);
    `--unlock`, then `--rerun-incomplete`, finishes with the outputs of an uninterrupted run (the
    session's smoke run, whose jobs for this target are the same)."""
    printed = kill_part_way(workflow_copy, smoke(KILL_TARGET), fraction=0.28)
    assert "steps (100%) done" not in printed
    locked = snakemake(workflow_copy, "--cores", "2", KILL_TARGET, *SMOKE)
    # Snakemake stops on the stale lock, or first on the killed jobs' incomplete outputs.
    stopped = locked.stdout + locked.stderr
    assert locked.returncode != 0 and ("Directory cannot be locked" in stopped or "Incomplete files" in stopped)
    unlock = snakemake(workflow_copy, "--unlock", *SMOKE)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    rerun = snakemake(workflow_copy, "--cores", "2", "--rerun-incomplete", KILL_TARGET, *SMOKE)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    declared = outputs_of(workflow_copy, KILL_TARGET)
    datasets = [path.removesuffix(storage.MANIFEST) for path in declared if path.endswith(storage.MANIFEST)]

    def of_target(key: str) -> bool:
        return key in declared or key.startswith(tuple(f"{folder}{storage.EPISODE_DIR}/" for folder in datasets))

    resumed, whole_run = comparable(workflow_copy), comparable(smoke_run)
    uninterrupted = {key: value for key, value in whole_run.items() if of_target(key)}
    assert len(datasets) == 6 and KILL_TARGET in declared  # walker's six datasets
    assert resumed.keys() == uninterrupted.keys()
    assert [key for key in resumed if resumed[key] != uninterrupted[key]] == []
    assert KILL_TARGET in resumed
