"""The offline stage's settings: each algorithm's hyperparameters and the ``offline`` and
``evaluate`` blocks of a preset.

Nothing here imports torch, so the workflow reads the settings (and the algorithms' names)
without loading the learners (``berl.offline.registry`` pairs each name with its agent).
"""

from __future__ import annotations

from dataclasses import dataclass

from berl.core.constants import ALGORITHMS
from berl.core.settings import setting


@dataclass
class OfflineConfig:
    """What every ExORL learner shares (facts: lr 1e-4, tau 0.01, hidden 1024, batch 1024)."""

    hidden_dim: int = setting(1024, "hidden width of the actor and critics")
    batch_size: int = setting(1024, "transitions per member and step")
    lr: float = setting(1e-4, "Adam's learning rate of every network")
    discount: float = setting(0.99, "discount of the TD targets", maximum=1)
    tau: float = setting(0.01, "soft update rate of the target critics, every step", maximum=1)


@dataclass
class TD3Config(OfflineConfig):
    policy_noise: float = setting(0.2, "std of the smoothing noise on target actions (and the actor's)")
    noise_clip: float = setting(0.3, "the smoothing noise is clipped to ±noise_clip")
    noisy_actor_loss: bool = setting(True, "the actor's loss evaluates a clipped noisy action (ExORL's); "
                                           "false: the deterministic action, as the original TD3")


@dataclass
class CQLConfig(OfflineConfig):
    cql_alpha: float = setting(0.01, "weight of the conservative penalty (fixed, no Lagrange tuning)", minimum=0)
    action_samples: int = setting(3, "actions per source (uniform, pi(s), pi(s')) in the penalty's log-sum-exp")
    log_prob_per_dimension: bool = setting(True, "log pi divided by the action dimensions (ExORL's); "
                                                 "false: summed over them, as SAC")


@dataclass
class CRRConfig(OfflineConfig):
    policy_std: float = setting(0.2, "fixed standard deviation of the Gaussian policy")
    noise_clip: float = setting(0.3, "policy samples stay within ±noise_clip of the mean")
    value_samples: int = setting(10, "policy samples whose mean min(Q1, Q2) is V(s)")


@dataclass
class CalQLConfig(CQLConfig):
    bound: bool = setting(True, "max(Q, Monte-Carlo return) on the policy's proposals; false: CQL's penalty")


@dataclass
class CORLCalQLConfig:
    """CORL's Cal-QL settings (``TrainConfig`` of ``algorithms/finetune/cal_ql.py``), the
    only home of their defaults; the gradient steps are ``d4rl.steps`` (CORL's 1M)."""

    hidden_dim: int = setting(256, "width of the actor's 3 and each critic's 2 hidden ReLU layers")
    batch_size: int = setting(256, "transitions per member and step")
    actor_lr: float = setting(3e-5, "Adam's learning rate of the actor and of the entropy temperature "
                                    "(CORL's policy_lr)")
    critic_lr: float = setting(3e-4, "Adam's learning rate of the twin critics (CORL's qf_lr)")
    discount: float = setting(0.99, "discount of the TD targets and the Monte-Carlo returns", maximum=1)
    tau: float = setting(5e-3, "soft update rate of the target critics, every step", maximum=1)
    cql_alpha: float = setting(10.0, "weight of the conservative penalty, fixed (CORL's Lagrange tuning off)",
                               minimum=0)
    action_samples: int = setting(10, "actions per source (uniform, pi(s), pi(s')) in the penalty's log-sum-exp")
    cql_temperature: float = setting(1.0, "temperature T of the penalty's log-sum-exp, T logsumexp(x / T)")


# Every offline algorithm's settings, by name (the names: berl.core.constants.ALGORITHMS).
ALGORITHM_CONFIGS = dict(zip(ALGORITHMS, (TD3Config, CQLConfig, CRRConfig, CalQLConfig, CORLCalQLConfig),
                             strict=True))


@dataclass
class TrainSettings:
    """The ``offline`` block: training of every (dataset, algorithm) pair's agents. Network
    and batch sizes default to the algorithms' own (ExORL's values)."""

    steps: int = setting(doc="gradient steps per agent")
    seeds: int = setting(1, "agents per (dataset, algorithm, task): training seeds 0..n-1", required=True)
    batch_size: int = setting(OfflineConfig.batch_size, "transitions per member and step", required=True)
    hidden_dim: int = setting(OfflineConfig.hidden_dim, "hidden width of the actor and critics", required=True)
    log_every: int = setting(1000, "steps between progress lines")
    checkpoint_every: int = setting(10_000, "steps between checkpoints")
    eval_every: int | None = setting(None, "steps between evaluations (learning curves); the last step is "
                                           "always evaluated (none: only the last)", required=True)
    # Switches of one algorithm away from ExORL's behaviour: fields of its config (e.g. td3:
    # {noisy_actor_loss: false}); on the command line, flags of their own.
    td3: dict = setting({}, "TD3's switches (fields of TD3Config)", flag=False, fields_of=TD3Config)
    cql: dict = setting({}, "CQL's switches (fields of CQLConfig)", flag=False, fields_of=CQLConfig)
    crr: dict = setting({}, "CRR's switches (fields of CRRConfig)", flag=False, fields_of=CRRConfig)
    calql: dict = setting({}, "Cal-QL's switches (fields of CalQLConfig)", flag=False, fields_of=CalQLConfig)
    corl_calql: dict = setting({}, "CORL's Cal-QL's settings: the D4RL teacher's, from the d4rl block", flag=False,
                               per_job=True, fields_of=CORLCalQLConfig)


@dataclass
class EvaluateSettings:
    """The ``evaluate`` block."""

    episodes: int = setting(10, "evaluation episodes per agent, with its deterministic action (ExORL's 10)",
                            required=True)
    random_episodes: int = setting(
        30, "episodes of the uniform-random policy per task: the reference that Table 1, Figure 4 and the "
            "learning curves show learnt returns against")
