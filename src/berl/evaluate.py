"""Roll out trained agents with their deterministic action and record episode returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import envs
from .io import write_json
from .log import get_logger
from .offline.train import load_agent

log = get_logger(__name__)

# Evaluation episodes use environment seeds far from any collection seed.
EVAL_SEED_OFFSET = 100_000


@torch.no_grad()
def rollout_returns(agent, task: str, episodes: int) -> np.ndarray:
    """Returns of ``episodes`` episodes for each of the agent's K members, shape (K, E).

    All K x E environments step in lockstep so that each control step needs a single
    batched forward pass of the K policies. Episode e starts from the same state for every
    agent, dataset and algorithm (common random numbers make comparisons less noisy).
    """
    members = len(agent.seeds)
    grid = [
        [envs.Env(task, seed=EVAL_SEED_OFFSET + e) for e in range(episodes)]
        for m in range(members)
    ]
    obs = np.stack([[env.reset() for env in row] for row in grid])
    returns = np.zeros((members, episodes))
    device = next(agent.parameters()).device
    for step in range(1, envs.EPISODE_LENGTH + 1):
        actions = agent.act(torch.as_tensor(obs, device=device)).cpu().numpy()
        for m, row in enumerate(grid):
            for e, env in enumerate(row):
                obs[m, e], reward, _ = env.step(actions[m, e])
                returns[m, e] += reward
        if step % (envs.EPISODE_LENGTH // 4) == 0:
            log.info("%s: step %d/%d of %d episodes", task, step, envs.EPISODE_LENGTH, returns.size)
    return returns


def evaluate(agent_path: Path, task: str, dataset: str, episodes: int, out_path: Path) -> dict:
    """Evaluate on the CPU: physics dominates and the policy batches are tiny."""
    agent = load_agent(Path(agent_path), torch.device("cpu"))
    returns = rollout_returns(agent, task, episodes)
    for seed, row in zip(agent.seeds, returns):
        log.info("seed %d: mean return %.1f over %d episodes", seed, row.mean(), episodes)
    result = {
        "agent_file": str(agent_path),
        "task": task,
        "dataset": dataset,
        "algorithm": agent.name,
        "seeds": agent.seeds,
        "episode_returns": returns.tolist(),
        "mean_return": returns.mean(axis=1).tolist(),
    }
    write_json(out_path, result)
    return result
