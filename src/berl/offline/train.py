"""Train every agent of one (dataset, algorithm) pair in one job: all tasks x all seeds.

The tasks of a domain share a dataset's states and actions and differ only in rewards, so
a job trains K = tasks x seeds members as one batch of independent networks: member
(task, seed) is initialised from its seed, reads its task's reward column and draws its
minibatch indices and noise from its own random stream. It therefore follows the same
trajectory whichever other members share the job.

The dataset lives on the training device as contiguous tensors and minibatch indices are
drawn there, so the inner loop moves no data between host and device; losses are read
back only at logging intervals. An algorithm that needs Monte-Carlo returns (Cal-QL) gets
each task's returns to go, computed once when the data is loaded. Every ``eval_every``
steps (and at the end) the members are rolled out with their deterministic action
(``berl.offline.evaluate``) to build learning curves. A checkpoint (agents, optimisers,
random streams, curve so far) is written atomically every ``checkpoint_every`` steps and
picked up again on a rerun.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from berl.core.checkpoint import load_checkpoint, save_checkpoint, save_torch
from berl.core.io import remove_with_temporaries, write_json
from berl.core.log import checked_metrics, get_logger
from berl.core.nets import MemberStreams
from berl.datasets import envs, storage
from berl.offline.evaluate import evaluation_record, rollout_returns
from berl.offline.registry import build_agent
from berl.offline.settings import EvaluateSettings, TrainSettings

log = get_logger(__name__)


def stream_seed(task: str, seed: int) -> int:
    """The seed of member (task, seed)'s random stream."""
    return zlib.crc32(f"{task}/{seed}".encode())


def _load_for_task(task: str, path: Path) -> storage.Transitions:
    """A task's checked transitions, held to the task's sizes when it is an environment's
    (the tests also train on toy problems of their own sizes)."""
    return storage.load_transitions(path, envs.known_sizes(task), what=task)


def load_task_parts(data_paths: dict[str, Path]) -> dict[str, storage.Transitions]:
    """One dataset relabelled for several tasks: each task's transitions, checked to share
    their states."""
    parts = {task: _load_for_task(task, Path(path)) for task, path in data_paths.items()}
    (first_task, first), *others = parts.items()
    for task, part in others:
        if len(part) != len(first) or not np.array_equal(part.observation, first.observation):
            raise storage.InputError(
                f"{data_paths[task]}: not relabelled from the same dataset as {data_paths[first_task]}"
            )
    return parts


def task_tensors(parts: dict[str, storage.Transitions], data_paths: dict[str, Path], device: torch.device,
                 mc_discount: float | None = None) -> dict[str, torch.Tensor]:
    """The tasks' shared arrays on ``device``, with rewards stacked as (tasks, N, 1) and, given
    ``mc_discount``, each task's Monte-Carlo returns to go as ``mc_return``, (tasks, N, 1)."""
    data = next(iter(parts.values())).to_torch(device)
    data["reward"] = torch.stack([torch.as_tensor(part.reward) for part in parts.values()]).to(device)
    if mc_discount is not None:
        data["mc_return"] = torch.stack([
            torch.as_tensor(storage.returns_to_go(part, mc_discount, data_paths[task]))
            for task, part in parts.items()
        ]).to(device)
    return data


def algorithm_config(algorithm: str, settings: TrainSettings) -> dict:
    """The settings of ``algorithm``'s config: the block's network and batch sizes, then its
    switches there (``settings.<algorithm>``, a field of its config each)."""
    return {"hidden_dim": settings.hidden_dim, "batch_size": settings.batch_size} | getattr(settings, algorithm, {})


def _checkpoint_path(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".ckpt")


def train(
    algorithm: str,
    data_paths: dict[str, Path],
    out_path: Path,
    settings: TrainSettings,
    evaluation: EvaluateSettings,
    device: torch.device,
    *,
    eval_path: Path | None = None,
    dataset: str = "",
) -> dict:
    """Train members (task, seed) for every task of ``data_paths`` and training seeds
    0..``settings.seeds`` - 1, with the algorithm's config from ``settings``
    (:func:`algorithm_config`).

    Writes the agents, with their learning curves, to ``out_path`` and returns what it
    wrote. The evaluation record (curves, final and best returns) also goes to
    ``eval_path`` when given. ``evaluation.episodes`` 0 skips evaluation (for problems that
    are not dm_control tasks).
    """
    seeds, steps = list(range(settings.seeds)), settings.steps
    log_every, checkpoint_every = settings.log_every, settings.checkpoint_every
    eval_every, eval_episodes = settings.eval_every or steps, evaluation.episodes
    config = algorithm_config(algorithm, settings)
    out_path = Path(out_path)
    tasks = list(data_paths)
    members = [{"task": task, "seed": seed} for task in tasks for seed in seeds]
    member_tasks = [m["task"] for m in members]
    data_files = {task: str(path) for task, path in data_paths.items()}
    parts = load_task_parts(data_paths)
    first = parts[tasks[0]]
    size, obs_dim, act_dim = len(first), first.observation.shape[1], first.action.shape[1]
    agent = build_agent(algorithm, obs_dim, act_dim, [m["seed"] for m in members], config).to(device)
    mc_discount = agent.config.discount if agent.needs_mc_returns else None
    data = task_tensors(parts, data_paths, device, mc_discount)
    agent.fit_to_data(data)  # agents that standardise states (CORL's Cal-QL) take the data's statistics
    del parts, first  # the host copies: only the device's are trained on
    streams = MemberStreams([stream_seed(m["task"], m["seed"]) for m in members], device)
    reward_row = torch.tensor([tasks.index(task) for task in member_tasks], device=device)[:, None]
    batch_shape = (agent.config.batch_size,)
    settings = asdict(agent.config)

    # A checkpoint is only resumed by the run that wrote it: same algorithm, settings, data.
    run_id = {"algorithm": algorithm, "config": settings, "members": members, "data": data_files,
              "transitions": size, "eval_every": eval_every, "eval_episodes": eval_episodes}
    start_step, curve = 0, []
    checkpoint = _checkpoint_path(out_path)
    state = load_checkpoint(checkpoint, run_id, device)
    if state is not None:
        agent.load_state_dict(state["agent"])
        agent.load_optimizer_state(state["optimizers"])
        streams.load_state(state["streams"])
        start_step, curve = state["step"], state["curve"]
        log.info("resuming at step %d", start_step)

    log.info("%s: %d members (%d tasks x %d seeds), %d transitions, %d steps on %s, config %s",
             algorithm, len(members), len(tasks), len(seeds), size, steps, device, settings)
    tick, tick_step = time.perf_counter(), start_step
    for step in range(start_step + 1, steps + 1):
        index = streams.randint(size, batch_shape)  # (K, B): each member samples its own rows
        batch = {key: data[key][index] for key in ("observation", "action", "discount", "next_observation")}
        batch["reward"] = data["reward"][reward_row, index]
        if agent.needs_mc_returns:
            batch["mc_return"] = data["mc_return"][reward_row, index]
        metrics = agent.update(batch, streams)

        if step % log_every == 0 or step == steps:
            summary = checked_metrics(metrics, step)
            rate = (step - tick_step) / (time.perf_counter() - tick)
            log.info("step %d/%d %s (%.1f steps/s)", step, steps, summary, rate)
            tick, tick_step = time.perf_counter(), step
        if eval_episodes and (step % eval_every == 0 or step == steps):
            returns = rollout_returns(agent.eval(), member_tasks, eval_episodes)
            agent.train()
            curve.append({"step": step, "returns": returns.tolist()})
            log.info("step %d: mean return per member %s", step,
                     np.array2string(returns.mean(axis=1), precision=1))
            tick, tick_step = time.perf_counter(), step  # evaluation time is not training speed
        if step % checkpoint_every == 0 and step < steps:
            save_checkpoint(checkpoint, run_id, {
                "agent": agent.state_dict(), "optimizers": agent.optimizer_state(),
                "streams": streams.state(), "step": step, "curve": curve,
            })

    record = evaluation_record(algorithm, dataset, members, curve, str(out_path)) if curve else None
    result = {
        "algorithm": algorithm,
        "config": settings,
        "members": members,
        "observation_dim": obs_dim,
        "action_dim": act_dim,
        "steps": steps,
        "data": data_files,
        "agent": {key: value.cpu() for key, value in agent.state_dict().items()},
        "evaluation": record,
    }
    save_torch(out_path, result)
    if eval_path is not None:
        write_json(eval_path, record)
    remove_with_temporaries(checkpoint)
    return result
