"""Train K offline agents (one per seed) of one algorithm on one relabelled dataset.

The dataset lives on the training device as contiguous tensors and minibatch indices are
drawn there, so the inner loop moves no data between host and device; losses are read
back only at logging intervals. A checkpoint (agents, optimisers, generator, step) is
written atomically every ``checkpoint_every`` steps and picked up again on a rerun.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict
from pathlib import Path

import torch

from .. import storage
from ..checkpoint import load_checkpoint, save_checkpoint, save_torch
from ..log import checked_metrics, get_logger
from .td3 import TD3, TD3Config

log = get_logger(__name__)

ALGORITHMS = {"td3": (TD3, TD3Config)}


def build_agent(algorithm: str, obs_dim: int, act_dim: int, seeds: list[int], config: dict):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    agent_cls, config_cls = ALGORITHMS[algorithm]
    return agent_cls(obs_dim, act_dim, seeds, config_cls(**config))


def _checkpoint_path(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".ckpt")


def train(
    algorithm: str,
    data_path: Path,
    out_path: Path,
    seeds: list[int],
    steps: int,
    config: dict,
    device: torch.device,
    log_every: int,
    checkpoint_every: int,
) -> dict:
    out_path = Path(out_path)
    data = storage.load_transitions(Path(data_path)).to_torch(device)
    size = len(data["observation"])
    obs_dim, act_dim = data["observation"].shape[1], data["action"].shape[1]
    agent = build_agent(algorithm, obs_dim, act_dim, seeds, config).to(device)
    batch_shape = (len(seeds), agent.config.batch_size)
    generator = torch.Generator(device).manual_seed(zlib.crc32(repr(list(seeds)).encode()))

    # A checkpoint is only resumed by the run that wrote it: same algorithm, settings, seeds, data.
    run_id = {"algorithm": algorithm, "config": asdict(agent.config), "seeds": list(seeds),
              "dataset": str(data_path), "transitions": size}
    start_step = 0
    checkpoint = _checkpoint_path(out_path)
    state = load_checkpoint(checkpoint, run_id, device)
    if state is not None:
        agent.load_state_dict(state["agent"])
        agent.load_optimizer_state(state["optimizers"])
        generator.set_state(state["generator"].to("cpu"))
        start_step = state["step"]
        log.info("resuming at step %d", start_step)

    log.info(
        "%s: %d agents, %d transitions, %d steps on %s, config %s",
        algorithm, len(seeds), size, steps, device, asdict(agent.config),
    )
    tick, tick_step = time.perf_counter(), start_step
    for step in range(start_step + 1, steps + 1):
        index = torch.randint(size, batch_shape, generator=generator, device=device)
        metrics = agent.update({key: value[index] for key, value in data.items()}, generator)

        if step % log_every == 0 or step == steps:
            summary = checked_metrics(metrics, step)
            rate = (step - tick_step) / (time.perf_counter() - tick)
            tick, tick_step = time.perf_counter(), step
            log.info("step %d/%d %s (%.1f steps/s)", step, steps, summary, rate)
        if step % checkpoint_every == 0 and step < steps:
            save_checkpoint(checkpoint, run_id, {
                "agent": agent.state_dict(),
                "optimizers": agent.optimizer_state(),
                "generator": generator.get_state(),
                "step": step,
            })

    result = {
        "algorithm": algorithm,
        "config": asdict(agent.config),
        "seeds": list(seeds),
        "observation_dim": obs_dim,
        "action_dim": act_dim,
        "steps": steps,
        "dataset": str(data_path),
        "agent": {key: value.cpu() for key, value in agent.state_dict().items()},
    }
    save_torch(out_path, result)
    checkpoint.unlink(missing_ok=True)
    return result


def load_agent(path: Path, device: torch.device):
    """Rebuild trained agents from ``train``'s output file."""
    try:
        saved = torch.load(Path(path), map_location=device, weights_only=False)
        agent = build_agent(
            saved["algorithm"], saved["observation_dim"], saved["action_dim"],
            saved["seeds"], saved["config"],
        )
    except (OSError, RuntimeError, KeyError, EOFError) as exc:
        raise ValueError(f"{path}: unreadable agent file ({exc})") from exc
    agent.load_state_dict(saved["agent"])
    return agent.to(device).eval()
