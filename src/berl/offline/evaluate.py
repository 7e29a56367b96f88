"""Roll out trained agents with their deterministic action and record episode returns."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from berl.core.io import write_json
from berl.core.log import get_logger
from berl.datasets import envs
from berl.offline.registry import load_agent
from berl.offline.settings import EvaluateSettings

log = get_logger(__name__)

# Evaluation episodes use environment seeds far from any collection seed.
EVAL_SEED_OFFSET = 100_000


# Environments built by earlier evaluations of this process, per task: building one costs
# about a quarter of a 1000-step episode, and training evaluates at every curve point.
_BUILT: dict[str, list[envs.Env | envs.GymEnv]] = defaultdict(list)


def evaluation_envs(tasks: list[str], episodes: int) -> list[list[envs.Env | envs.GymEnv]]:
    """Row m: environments of evaluation episodes 0..episodes-1 of ``tasks[m]``, every row's
    own. Episode e starts from the same state for every policy evaluated there (seed
    EVAL_SEED_OFFSET + e); the environments are reused across calls, reseeded each time."""
    used: dict[str, int] = defaultdict(int)
    grid = []
    for task in tasks:
        built, row = _BUILT[task], []
        for episode in range(episodes):
            if used[task] == len(built):
                built.append(envs.make_env(task, seed=0))
            env = built[used[task]]
            used[task] += 1
            env.reseed(EVAL_SEED_OFFSET + episode)
            row.append(env)
        grid.append(row)
    return grid


@torch.no_grad()
def rollout_returns(agent, member_tasks: list[str], episodes: int) -> np.ndarray:
    """Returns of ``episodes`` episodes for each of the agent's K members, shape (K, E).

    Member m acts in task ``member_tasks[m]``. All K x E environments step in lockstep so
    that each control step needs a single batched forward pass of the K policies; an
    episode that ends early (a fallen hopper) stops stepping while the others go on.
    Episode e starts from the same state for every member, dataset and algorithm of a task
    (common random numbers make comparisons less noisy).
    """
    grid = evaluation_envs(member_tasks, episodes)
    obs = np.stack([[env.reset() for env in row] for row in grid])
    returns = np.zeros((len(member_tasks), episodes))
    running = np.ones((len(member_tasks), episodes), dtype=bool)
    device = next(agent.parameters()).device
    while running.any():
        actions = agent.act(torch.as_tensor(obs, device=device)).cpu().numpy()
        for m, e in zip(*np.nonzero(running)):
            obs[m, e], reward, over = grid[m][e].step(actions[m, e])
            returns[m, e] += reward
            running[m, e] = not over
    return returns


def evaluation_record(algorithm: str, dataset: str, members: list[dict], curve: list[dict],
                      agent_file: str) -> dict:
    """Learning curves plus each member's final and best-so-far mean return."""
    means = np.array([np.mean(point["returns"], axis=1) for point in curve])  # (points, K)
    return {
        "agent_file": agent_file,
        "dataset": dataset,
        "algorithm": algorithm,
        "members": members,
        "curve": curve,
        "final_return": means[-1].tolist(),
        "best_return": means.max(axis=0).tolist(),
    }


def evaluate(agent_path: Path, dataset: str, settings: EvaluateSettings, out_path: Path) -> dict:
    """Evaluate a trained agents file over ``settings.episodes`` episodes per member, on the
    CPU (physics dominates, policy batches are tiny)."""
    episodes = settings.episodes
    agent, saved = load_agent(Path(agent_path), torch.device("cpu"))
    members = saved["members"]
    returns = rollout_returns(agent, [m["task"] for m in members], episodes)
    for member, row in zip(members, returns):
        log.info("%s seed %d: mean return %.1f over %d episodes",
                 member["task"], member["seed"], row.mean(), episodes)
    record = evaluation_record(agent.name, dataset, members,
                               [{"step": saved["steps"], "returns": returns.tolist()}], str(agent_path))
    write_json(out_path, record)
    return record


def random_policy_returns(task: str, episodes: int, seed: int = 0) -> np.ndarray:
    """Returns of the uniform-random policy over ``episodes`` episodes of ``task``, from the
    same start states as the agents' evaluations."""
    rng = np.random.default_rng(seed)
    returns = np.zeros(episodes)
    for e, env in enumerate(evaluation_envs([task], episodes)[0]):
        env.reset()
        over = False
        while not over:
            _, reward, over = env.step(rng.uniform(-1.0, 1.0, env.action_dim).astype(np.float32))
            returns[e] += reward
    return returns


def random_reference(task: str, settings: EvaluateSettings, out_path: Path) -> dict:
    """Write the uniform-random policy's returns on ``task`` over ``settings.random_episodes``
    episodes: what no learning scores."""
    episodes = settings.random_episodes
    returns = random_policy_returns(task, episodes)
    log.info("%s: uniform-random policy, mean return %.1f over %d episodes", task, returns.mean(), episodes)
    record = {"task": task, "policy": "uniform random", "returns": returns.tolist()}
    write_json(out_path, record)
    return record
