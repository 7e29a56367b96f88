"""Collection throughput of the learning explorers (APT-BE, SMM, RND) and where time goes.

Per environment step an explorer pays for physics, one policy forward pass (`act`) and
1/update_every of an update; an update trains the reward's model and computes the batch's
intrinsic reward (APT: online encoder step + k-NN particle reward; SMM: VAE and
discriminator steps; RND: predictor step), then takes one actor-critic step. Each part is
timed on its own, in alternation with the others and with raw dm_control stepping, at the
`quick` and `paper` sizes, for both domains. The figures combine them into steps per
second, the ratio to raw physics, each part's share, and a projection of the `paper`
preset's whole collection cost on this machine.

Batching: a job of K = 5 APT explorers (five BE alphas) in lockstep against K = 1, side by
side at the `quick` and `paper` sizes, each running whole collection steps (physics in
every environment, acting, and an update every `update_every` steps): environment steps per second per explorer, and the
ratio to K = 1. A one-explorer job runs its layers as a batch of one member; under
``member_equality`` it evaluates its layers as a pair of views of the same member, so that
its arithmetic equals a batched member's (``berl.core.nets``), timed too as
`K=1 member equality`.

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
from berl.core.nets import member_equality  # noqa: E402
from berl.explore.agents import make_agent  # noqa: E402
from berl.explore.collect import run_episodes  # noqa: E402
from berl.explore.encoder import ICMEncoder, save_encoder  # noqa: E402
from berl.explore.settings import EncoderConfig, ExplorerConfig  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
AGENTS = {
    "apt_be": {"agent": "apt", "reward": "be", "alpha": 0.5},
    "smm": {"agent": "smm"},
    "rnd": {"agent": "rnd"},
}
REPEATS = {"quick": 20, "paper": 2}
BATCHING_STEPS = {"quick": 20, "paper": 4}  # lockstep steps per timed round (a paper-size K = 5 step takes ~1 s)


def preset_sizes(preset: str) -> tuple[dict, int]:
    settings = yaml.safe_load(CONFIG.read_text())["presets"][preset]
    return settings["explore"], settings["encoder"]["hidden_dim"]


def build(domain: str, specs: list[dict], explore: dict, encoder_hidden: int, folder: Path,
          device: torch.device):
    """K explorers (one per spec) in their environments, ready to act and learn, their
    replay holding a finished uniform-random episode in every partition (with a partition
    still empty, its turns skip the update, and timed rounds would differ in their number
    of updates)."""
    environments = [envs.Env(envs.COLLECTION_TASK[domain], seed=m) for m in range(len(specs))]
    partitions = ExplorerConfig.replay_partitions
    env = environments[0]
    encoder_path = folder / f"{domain}_encoder_{encoder_hidden}.pt"
    save_encoder(encoder_path, ICMEncoder(env.observation_dim, env.action_dim,
                                          EncoderConfig(hidden_dim=encoder_hidden), [0]),
                 env.observation_dim, env.action_dim)
    agent = make_agent(specs, env.observation_dim, env.action_dim, list(range(len(specs))),
                       settings=explore | {"seed_frames": 10**9}, encoder_path=encoder_path,
                       capacity=(partitions + 2) * envs.EPISODE_LENGTH, device=device)
    for _ in range(partitions):
        run_episodes(environments, agent)
    agent.config.seed_frames = 0  # from now on act with the policy
    return environments, agent


def collection_steps(environments, agent, steps: int, device: torch.device):
    """A callable running ``steps`` whole collection steps of every explorer."""
    observation = np.stack([env.reset() for env in environments])

    def run():
        nonlocal observation
        for _ in range(steps):
            action = agent.act(observation)
            next_observation = np.stack([env.step(a)[0] for env, a in zip(environments, action)])
            agent.observe(observation, action, next_observation, False)
            observation = next_observation
        if device.type == "cuda":
            torch.cuda.synchronize()
    return run


def batching(domain: str, explore: dict, encoder_hidden: int, folder: Path, rounds: int,
             device: torch.device, members: int = 5, steps: int = 20) -> dict:
    """Per-explorer collection throughput of K = ``members`` batched APT explorers against K = 1."""
    specs = [{"agent": "apt", "reward": "be", "alpha": alpha} for alpha in (0.2, 0.5, 0.7, 1.5, 2.0)][:members]
    jobs = {f"K={k}": build(domain, specs[:k], explore, encoder_hidden, folder, device) for k in (1, members)}
    with member_equality():  # a job of its own: its optimisers are made under the switch
        jobs["K=1 member equality"] = build(domain, specs[:1], explore, encoder_hidden, folder, device)
    runs = {name: collection_steps(*job, steps, device) for name, job in jobs.items()}
    equal = runs["K=1 member equality"]

    def paired():
        with member_equality():
            equal()

    runs["K=1 member equality"] = paired
    for run in runs.values():
        run()  # warm-up
    seconds = interleaved(runs, rounds=rounds)
    explorers = {name: members if name == f"K={members}" else 1 for name in seconds}
    # Environment steps of all the job's explorers per second: with K explorers, K per step.
    rate = {name: steps * explorers[name] / value for name, value in seconds.items()}
    return {
        "explorers": members, "steps_timed": steps,
        "env_steps_per_second_of_the_job": {name: round(value, 1) for name, value in rate.items()},
        "per_explorer_throughput_ratio_to_K1": round(rate[f"K={members}"] / rate["K=1"], 2),
        "per_explorer_throughput_ratio_to_K1_member_equality": round(
            rate[f"K={members}"] / rate["K=1 member equality"], 2),
    }


def measure(environments, agent, repeats: int, rounds: int, device: torch.device) -> dict:
    env = environments[0]
    obs = env.reset()[None]
    sample = agent.replay.sample(agent.config.batch_size, agent.streams)
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
            lambda: agent.rewards[0](agent.encoder.encode(sample["observation"])[0].detach())
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
    parser.add_argument("--batching-only", action="store_true", help="only the K = 5 against K = 1 comparison")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        for domain in envs.DOMAINS:
            for preset in ("quick", "paper"):
                explore, encoder_hidden = preset_sizes(preset)
                batched = batching(domain, explore, encoder_hidden, Path(scratch), args.rounds, device,
                                   steps=BATCHING_STEPS[preset])
                results.setdefault(domain, {})[f"batching_{preset}"] = batched
                print(domain, preset, "batching", batched, flush=True)
            if args.batching_only:
                continue
            for preset in ("quick", "paper"):
                explore, encoder_hidden = preset_sizes(preset)
                for name, spec in AGENTS.items():
                    environments, agent = build(domain, [spec], explore, encoder_hidden, Path(scratch), device)
                    figures = measure(environments, agent, REPEATS[preset], args.rounds, device)
                    results[domain].setdefault(preset, {})[name] = figures
                    print(domain, preset, name, figures["env_steps_per_second"], "steps/s", flush=True)
    extra = {}
    if not args.batching_only:
        extra["paper_projection"] = paper_projection(results)
        for by_preset in results.values():
            for preset in ("quick", "paper"):
                for figures in by_preset[preset].values():
                    figures.pop("seconds_per_step")
    write_results(f"explore_{device.type}" + ("_batching" if args.batching_only else ""), {
        "threads": args.threads, "rounds": args.rounds, "device": str(device),
        "sizes": {preset: preset_sizes(preset)[0] for preset in ("quick", "paper")},
        **results, **extra,
    })


if __name__ == "__main__":
    main()
