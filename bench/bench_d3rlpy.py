"""Our offline TD3, CQL and CRR next to d3rlpy's: returns and gradient steps per second.

Both libraries train on the same relabelled dataset, for the same number of gradient
steps, with the same widths, batch size, learning rate, discount and target-update rate,
and the same seeds; each trained policy is rolled out on the same evaluation episodes
(same environment seeds) with its deterministic action. Our agents train as one batch of
``--seeds`` members, exactly as the pipeline runs them; d3rlpy trains one agent at a time.

Throughput is measured separately, interleaved in one process: gradient steps per second
per agent for d3rlpy (its own minibatch sampler and update) and for our jobs of K = 1, 5
and 15 members (agent-steps/s = job rate x K). Both run in this one process, so d3rlpy gets
our jobs' allocator setting too (``berl.core.device.keep_freed_memory``, which speeds it up
as well), and our one-agent job runs as the pipeline runs it, without member equality.

Matched settings: hidden width and depth (two hidden layers), batch, lr 1e-4 for every
network, tau 0.01 with soft target updates, gamma 0.99, twin critics with the minimum in
the target, TD3 noise 0.2 clipped at 0.3 with an actor step every critic step, CQL penalty
weight 0.01 without the Lagrange multiplier and 3 sampled actions per source, CRR with
binary weights 1[A > 0] and 10 value samples. Networks: by default d3rlpy gets our
layers too (Linear-LayerNorm-Tanh, Linear-ReLU, then its own output layer: ExORL's
architecture) through an encoder factory defined here; ``--d3rlpy-nets mlp`` keeps its
default ReLU MLP of the same widths instead. What differs still: initialisation (ours
orthogonal), and d3rlpy's CRR policy is a Gaussian with a learnt standard deviation (ours
fixed at 0.2).

    pip install -e ".[bench]"
    python bench/bench_d3rlpy.py --data results/quick/datasets/walker/rnd/seed0/relabelled/walker_stand.npz
"""

from __future__ import annotations

import argparse
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import d3rlpy
import numpy as np
import structlog
import torch
from _common import interleaved, write_results
from bench_offline import stepper
from d3rlpy.models.torch.encoders import Encoder, EncoderWithAction
from torch import nn

from berl.datasets import storage
from berl.offline.evaluate import rollout_returns
from berl.offline.registry import ALGORITHMS
from berl.offline.settings import EvaluateSettings, TrainSettings
from berl.offline.train import train

LR, TAU, GAMMA = 1e-4, 0.01, 0.99


def exorl_trunk(inputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.LayerNorm(hidden), nn.Tanh(),
                         nn.Linear(hidden, hidden), nn.ReLU())


class StateTrunk(Encoder):
    def __init__(self, obs_dim: int, hidden: int):
        super().__init__()
        self.layers = exorl_trunk(obs_dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class StateActionTrunk(EncoderWithAction):
    def __init__(self, obs_dim: int, act_dim: int, hidden: int):
        super().__init__()
        self.layers = exorl_trunk(obs_dim + act_dim, hidden)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([x, action], dim=-1))


@dataclass()
class ExorlEncoderFactory(d3rlpy.models.EncoderFactory):
    """Our networks' layers below d3rlpy's output heads."""

    hidden: int = 256

    def create(self, observation_shape) -> Encoder:
        return StateTrunk(observation_shape[0], self.hidden)

    def create_with_action(self, observation_shape, action_size, discrete_action=False) -> EncoderWithAction:
        return StateActionTrunk(observation_shape[0], action_size, self.hidden)

    @staticmethod
    def get_type() -> str:
        return "exorl_trunk"


d3rlpy.models.register_encoder_factory(ExorlEncoderFactory)


def d3rlpy_dataset(transitions: storage.Transitions):
    """An MDPDataset holding exactly our transitions, one d3rlpy episode per stored episode.

    Episodes end where a transition's next observation is not the next row's observation;
    each gets its final observation as an extra row (dummy action and reward) flagged as a
    time-out, so d3rlpy forms the same (s, a, r, s') tuples and never treats an end as
    terminal.
    """
    obs, next_obs = transitions.observation, transitions.next_observation
    ends = np.flatnonzero(np.any(next_obs[:-1] != obs[1:], axis=1)) + 1
    observations, actions, rewards, timeouts = [], [], [], []
    for start, stop in zip(np.r_[0, ends], np.r_[ends, len(obs)]):
        length = stop - start
        observations.append(np.concatenate([obs[start:stop], next_obs[stop - 1:stop]]))
        actions.append(np.concatenate([transitions.action[start:stop],
                                       np.zeros_like(transitions.action[:1])]))
        rewards.append(np.concatenate([transitions.reward[start:stop], np.zeros((1, 1), np.float32)]))
        timeout = np.zeros(length + 1, dtype=np.float32)
        timeout[-1] = 1.0
        timeouts.append(timeout)
    dataset = d3rlpy.dataset.MDPDataset(
        observations=np.concatenate(observations).astype(np.float32),
        actions=np.concatenate(actions).astype(np.float32),
        rewards=np.concatenate(rewards).astype(np.float32),
        terminals=np.zeros(sum(len(t) for t in timeouts), dtype=np.float32),
        timeouts=np.concatenate(timeouts),
    )
    if dataset.transition_count != len(transitions):
        raise RuntimeError(f"d3rlpy sees {dataset.transition_count} transitions, we have {len(transitions)}")
    return dataset


def d3rlpy_algorithm(algorithm: str, hidden: int, batch: int, nets: str):
    if nets == "exorl":
        factory = ExorlEncoderFactory(hidden=hidden)
    else:
        factory = d3rlpy.models.VectorEncoderFactory(hidden_units=[hidden, hidden])
    nets = dict(
        actor_encoder_factory=factory, critic_encoder_factory=factory,
        actor_learning_rate=LR, critic_learning_rate=LR,
        batch_size=batch, gamma=GAMMA, tau=TAU, n_critics=2,
    )
    if algorithm == "td3":
        return d3rlpy.algos.TD3Config(**nets, target_smoothing_sigma=0.2, target_smoothing_clip=0.3,
                                      update_actor_interval=1)
    if algorithm == "cql":
        # A fixed multiplier exp(log 1) = 1 times the weight 0.01: the penalty without Lagrange.
        return d3rlpy.algos.CQLConfig(**nets, temp_learning_rate=LR, alpha_learning_rate=0.0,
                                      initial_alpha=1.0, conservative_weight=0.01, n_action_samples=3)
    if algorithm == "crr":
        return d3rlpy.algos.CRRConfig(**nets, weight_type="binary", advantage_type="mean",
                                      n_action_samples=10, target_update_type="soft")
    raise ValueError(algorithm)


class D3rlpyMembers(torch.nn.Module):
    """d3rlpy policies, one per seed, behind our agents' ``act`` so the same rollout code runs."""

    def __init__(self, algos: list):
        super().__init__()
        self.algos = algos
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # rollout_returns reads the device from it

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.as_tensor(algo.predict(o.numpy())) for algo, o in zip(self.algos, obs)])


def d3rlpy_returns(algorithm, dataset, task, seeds, steps, hidden, batch, episodes, nets) -> np.ndarray:
    algos = []
    for seed in seeds:
        d3rlpy.seed(seed)
        algo = d3rlpy_algorithm(algorithm, hidden, batch, nets).create(device=False)
        algo.fit(dataset, n_steps=steps, n_steps_per_epoch=steps, show_progress=False,
                 logger_adapter=d3rlpy.logging.NoopAdapterFactory())
        algos.append(algo)
    return rollout_returns(D3rlpyMembers(algos), [task] * len(seeds), episodes).mean(axis=1)


def our_returns(algorithm, data_path, task, seeds, steps, hidden, batch, episodes, nets=None) -> np.ndarray:
    with tempfile.TemporaryDirectory() as scratch:
        settings = TrainSettings(steps=steps, seeds=len(seeds), hidden_dim=hidden, batch_size=batch, log_every=steps,
                                 checkpoint_every=steps, eval_every=steps, **{algorithm: {"lr": LR, "tau": TAU}})
        result = train(algorithm, {task: data_path}, Path(scratch) / "agents.pt", settings,
                       EvaluateSettings(episodes=episodes), torch.device("cpu"))
    return np.array(result["evaluation"]["final_return"])


def d3rlpy_stepper(algorithm, dataset, hidden, batch, steps, nets):
    algo = d3rlpy_algorithm(algorithm, hidden, batch, nets).create(device=False)
    algo.build_with_dataset(dataset)

    def run():
        for _ in range(steps):
            algo.update(dataset.sample_transition_batch(batch))

    run()  # warm-up
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="a relabelled dataset, .../relabelled/<task>.npz")
    # the algorithms both libraries have (d3rlpy has no Cal-QL, ExORL's or CORL's)
    parser.add_argument("--algorithms", nargs="+", default=["td3", "cql", "crr"], choices=sorted(ALGORITHMS))
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128, help="the quick preset's width")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--timing-steps", type=int, default=50)
    parser.add_argument("--timing-members", type=int, nargs="+", default=[1, 5, 15],
                        help="K of our batched jobs in the timing (15 = the paper's walker job)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--d3rlpy-nets", choices=["exorl", "mlp"], default="exorl",
                        help="d3rlpy's hidden layers: ours (default) or its ReLU MLP")
    parser.add_argument("--parts", nargs="+", choices=["returns", "timing"], default=["returns", "timing"])
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # d3rlpy's
    torch.set_num_threads(args.threads)
    task = args.data.stem
    if not re.fullmatch(r"[a-z]+_[a-z]+", task):
        raise SystemExit(f"{args.data}: expected a relabelled file named after its task, e.g. walker_stand.npz")
    transitions = storage.load_transitions(args.data)
    dataset = d3rlpy_dataset(transitions)
    seeds = list(range(args.seeds))
    data = transitions.to_torch(torch.device("cpu"))

    results = {"data": str(args.data), "task": task, "transitions": len(transitions),
               "steps": args.steps, "seeds": args.seeds, "hidden": args.hidden, "batch": args.batch,
               "episodes": args.episodes, "threads": args.threads, "d3rlpy_nets": args.d3rlpy_nets,
               "algorithms": {}}
    for algorithm in args.algorithms:
        row = {}
        if "timing" in args.parts:
            members = {"d3rlpy": 1, **{f"ours_k{k}": k for k in args.timing_members}}
            runners = {
                "d3rlpy": d3rlpy_stepper(algorithm, dataset, args.hidden, args.batch, args.timing_steps,
                                         args.d3rlpy_nets),
                **{name: stepper(algorithm, args.hidden, args.batch, k, args.timing_steps, data=data)
                   for name, k in members.items() if name != "d3rlpy"},
            }
            seconds = interleaved(runners, rounds=args.rounds)
            per_agent = {name: args.timing_steps / seconds[name] * members[name] for name in runners}
            row["agent_steps_per_second"] = {name: round(rate, 1) for name, rate in per_agent.items()}
            row["per_agent_speedup_vs_d3rlpy"] = {name: round(rate / per_agent["d3rlpy"], 2)
                                                  for name, rate in per_agent.items()}
        if "returns" in args.parts:
            for name, train_fn in (("ours", our_returns), ("d3rlpy", d3rlpy_returns)):
                source = args.data if name == "ours" else dataset
                returns = train_fn(algorithm, source, task, seeds, args.steps, args.hidden, args.batch,
                                   args.episodes, args.d3rlpy_nets)
                row[f"return_{name}"] = {"per_seed": returns.round(1).tolist(),
                                         "mean": round(float(returns.mean()), 1),
                                         "std": round(float(returns.std(ddof=1)), 1)}
        results["algorithms"][algorithm] = row
        print(algorithm, row, flush=True)
    write_results(f"d3rlpy_{'_'.join(args.parts)}_{args.d3rlpy_nets}", results)


if __name__ == "__main__":
    main()
