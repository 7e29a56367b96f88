"""Collection throughput of the learning explorers (APT-BE, SMM, RND) and where time goes.

Per environment step an explorer pays for physics, one policy forward pass (`act`) and
1/update_every of an update; an update trains the reward's model and computes the batch's
intrinsic reward (APT: online encoder step + k-NN particle reward; SMM: VAE and
discriminator steps; RND: predictor step), then takes one actor-critic step. Each part is
timed on its own, in alternation with the others and with raw dm_control stepping, at the
`quick` and `paper` sizes, for both domains. The figures combine them into steps per
second, the ratio to raw physics, each part's share, and a projection of the `paper`
preset's whole collection cost on this machine.

    python bench/bench_explore.py [--threads 2] [--rounds 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from _common import interleaved, write_results

os.environ.setdefault("MUJOCO_GL", "disable")

from berl.datasets import envs  # noqa: E402
from berl.explore.agents import make_agent  # noqa: E402
from berl.explore.encoder import EncoderConfig, ICMEncoder, save_encoder  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
AGENTS = {
    "apt_be": {"agent": "apt", "reward": "be", "alpha": 0.5},
    "smm": {"agent": "smm"},
    "rnd": {"agent": "rnd"},
}
REPEATS = {"quick": 20, "paper": 2}


def preset_sizes(preset: str) -> tuple[dict, int]:
    settings = yaml.safe_load(CONFIG.read_text())["presets"][preset]
    return settings["explore"], settings["encoder"]["hidden_dim"]


def build(domain: str, spec: dict, explore: dict, encoder_hidden: int, folder: Path,
          device: torch.device):
    """An explorer whose replay holds two uniform-random episodes, ready to act and learn."""
    env = envs.Env(envs.COLLECTION_TASK[domain], seed=0)
    encoder_path = folder / f"{domain}_encoder_{encoder_hidden}.pt"
    save_encoder(encoder_path, ICMEncoder(env.observation_dim, env.action_dim,
                                          EncoderConfig(hidden_dim=encoder_hidden)),
                 env.observation_dim, env.action_dim)
    agent = make_agent(spec, env.observation_dim, env.action_dim, seed=0,
                       settings=explore | {"seed_frames": 10**9}, encoder_path=encoder_path,
                       capacity=3 * envs.EPISODE_LENGTH, device=device)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(2 * envs.EPISODE_LENGTH):
        action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        next_obs, _, done = env.step(action)
        agent.observe(obs, action, next_obs, done)
        obs = env.reset() if done else next_obs
    agent.config.seed_frames = 0  # from now on act with the policy
    return env, agent


def measure(env, agent, repeats: int, rounds: int, device: torch.device) -> dict:
    obs = env.reset()
    sample = agent.replay.sample(agent.config.batch_size, agent.generator)
    action = np.zeros(env.action_dim, np.float32)

    def timed(fn):
        def run():
            for _ in range(repeats):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
        return run

    parts = {
        "physics": timed(lambda: env.step(action)),
        "act": timed(lambda: agent.act(obs)),
        "reward_model": timed(lambda: agent.intrinsic_reward(sample)),
        "update": timed(agent.update),
    }
    if agent.name == "apt":  # the k-NN part of APT's reward model, on its own
        parts["knn_reward"] = timed(
            lambda: agent.reward(agent.encoder.encode(sample["observation"]).detach())
        )
    seconds = {k: v / repeats for k, v in interleaved(parts, rounds=rounds).items()}
    every = agent.config.update_every
    per_step = seconds["physics"] + seconds["act"] + seconds["update"] / every
    shares = {
        "physics": seconds["physics"], "act": seconds["act"],
        "reward_model": seconds["reward_model"] / every,
        "actor_critic_update": (seconds["update"] - seconds["reward_model"]) / every,
    }
    if "knn_reward" in seconds:  # APT's reward model: the encoder step plus the k-NN reward
        shares["encoder_update"] = (seconds["reward_model"] - seconds["knn_reward"]) / every
        shares["knn_reward"] = seconds["knn_reward"] / every
        del shares["reward_model"]
    return {
        "milliseconds": {k: round(1e3 * v, 3) for k, v in seconds.items()},
        "env_steps_per_second": round(1 / per_step, 1),
        "ratio_to_raw_physics": round(seconds["physics"] / per_step, 4),
        "share_of_step_time": {k: round(v / per_step, 3) for k, v in shares.items()},
        "seconds_per_step": per_step,
    }


def paper_projection(results: dict) -> dict:
    """Hours to collect the `paper` preset's learnt datasets, from the measured step times."""
    settings = yaml.safe_load(CONFIG.read_text())["presets"]["paper"]
    transitions = settings["collect"]["transitions"]
    per_kind = {"apt": "apt_be", "smm": "smm", "rnd": "rnd"}
    hours, datasets = 0.0, 0
    for domain in envs.DOMAINS:
        for dataset in settings["datasets"]:
            if dataset["agent"] in per_kind:
                step = results[domain]["paper"][per_kind[dataset["agent"]]]["seconds_per_step"]
                hours += transitions * step / 3600
                datasets += 1
    return {"learnt_datasets": datasets, "transitions_each": transitions,
            "sequential_hours": round(hours, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        for domain in envs.DOMAINS:
            for preset in ("quick", "paper"):
                explore, encoder_hidden = preset_sizes(preset)
                for name, spec in AGENTS.items():
                    env, agent = build(domain, spec, explore, encoder_hidden, Path(scratch), device)
                    figures = measure(env, agent, REPEATS[preset], args.rounds, device)
                    results.setdefault(domain, {}).setdefault(preset, {})[name] = figures
                    print(domain, preset, name, figures["env_steps_per_second"], "steps/s", flush=True)
    projection = paper_projection(results)
    for by_preset in results.values():
        for by_agent in by_preset.values():
            for figures in by_agent.values():
                figures.pop("seconds_per_step")
    write_results(f"explore_{device.type}", {
        "threads": args.threads, "rounds": args.rounds, "device": str(device),
        "sizes": {preset: preset_sizes(preset)[0] for preset in ("quick", "paper")},
        **results, "paper_projection": projection,
    })


if __name__ == "__main__":
    main()
