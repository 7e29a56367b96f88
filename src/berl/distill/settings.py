"""The distillation stage's settings: OBD's hyperparameters, the generalisation study's
names, the ``distill`` block of a preset, and the ``d4rl`` block (OBD's own benchmark: its
datasets, teacher and outer steps).

Nothing here imports torch, so the workflow reads the settings without loading OBD.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from berl.core.constants import ALGORITHMS, OBJECTIVES, PRESET_ALGORITHMS
from berl.core.settings import describe, setting
from berl.datasets import d4rl
from berl.offline.settings import CORLCalQLConfig

Objective = Literal[OBJECTIVES]
# The policies of OBD's generalisation study: plain MLPs of 2 to 6 linear layers and a residual MLP.
Architecture = Literal["mlp2", "mlp3", "mlp4", "mlp5", "mlp6", "res_mlp"]
ARCHITECTURES: tuple[Architecture, ...] = typing.get_args(Architecture)


@dataclass
class DistillConfig:
    """OBD's values (facts: sections 5, 7 and 8); the other choices are switches."""

    synthetic: int = setting(256, "synthetic (state, action) pairs N_syn", required=True)
    objective: Objective = setting("av_pbc", "distillation objective", per_job=True)
    policy: Literal["tanh_gaussian", "mlp"] = setting(
        "tanh_gaussian", "the distilled policy: OBD's tanh-Gaussian, trained on its sampled actions and acting "
        "with tanh(mean), or a deterministic ReLU MLP ending in tanh")
    layers: int = setting(4, "linear layers of the distilled policy", minimum=2)
    width: int = setting(256, "hidden width of the distilled policy")
    inner_steps: int = setting(100, "BC steps on the synthetic set, unrolled, per outer step")
    inner_lr: float = setting(0.1, "learning rate of the inner loop's plain SGD")
    outer_lr: float = setting(0.1, "learning rate of the outer SGD (with momentum) on the synthetic set")
    momentum: float = setting(0.9, "momentum of the outer SGD", minimum=0, maximum=1)
    clip_norm: float = setting(2.0, "norm the gradient on the synthetic set is clipped to")
    minibatches: int = setting(10, "real minibatches per outer step")
    batch_size: int = setting(256, "states per real minibatch")
    q_scale: float = setting(0.02, "Av-PBC's weight per unit of Q")
    teacher_action: Literal["sample", "mean"] = setting(
        "sample", "PBC and Av-PBC targets: a sample of the teacher's policy (OBD's) or its deterministic action")
    teacher_q: Literal["q1", "min"] = setting(
        "q1", "Av-PBC's Q(s, a*): the teacher's first critic (OBD's) or min(Q1, Q2)")
    clamp_actions: bool = setting(False, "clamp the distilled actions to [-1, 1] after each outer step "
                                         "(OBD leaves them free)")
    eval_seeds: int = setting(10, "fresh policies trained on a set per score")
    eval_episodes: int = setting(10, "episodes per policy")
    scoring: Literal["smoothed", "final"] = setting(
        "smoothed", "a set's score: the mean over its last evaluated checkpoints (OBD's; score_checkpoints) "
                    "or its final set's alone")
    score_checkpoints: int = setting(
        10, "evaluated checkpoints (every eval_every outer steps, and the final set) whose mean is a DBC or "
            "PBC set's score, as OBD; all of them where fewer were evaluated")
    av_pbc_score_checkpoints: int = setting(5, "the same for an Av-PBC set, as OBD")
    random_draws: int = setting(10, "draws of N_syn random real pairs scored for random selection, as OBD")
    generalisation_architectures: list[Architecture] = setting(
        list(ARCHITECTURES), "architectures of OBD's generalisation study: mlp<k> with k linear layers, res_mlp "
                             "with residual blocks (Policy); the distilled policy's kind and width", unique=True)
    generalisation_steps: int = setting(500, "full-batch steps each architecture trains on a set, as OBD's study")
    generalisation_lr: float = setting(
        1e-3, "learning rate of the study's Adam (the paper names Adam; OBD's code trains with SGD at 0.1)")
    generalisation_checkpoints: int = setting(
        4, "last evaluated checkpoints whose sets the study scores, their scores averaged, as OBD")

    def __post_init__(self):
        for name, info in describe(DistillConfig).items():
            values = getattr(self, name) if info["list"] else [getattr(self, name)]
            for value in values:
                if info["choices"] and value not in info["choices"]:
                    known = ", ".join(info["choices"])
                    raise ValueError(f"unknown {name} {value!r}; known: {known}")
        counts = ("score_checkpoints", "av_pbc_score_checkpoints", "random_draws", "generalisation_checkpoints")
        for name in counts:  # a count of 0 would average nothing (or, sliced from the end, everything)
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


@dataclass(kw_only=True)
class DistillRun(DistillConfig):
    """What ``berl distill`` takes: OBD's hyperparameters and a distillation run's length,
    evaluated checkpoints, logging and seeds."""

    outer_steps: int = setting(doc="outer steps of a distillation")
    eval_every: int = setting(1000, "outer steps between evaluated checkpoints, OBD's eval_freq (0: only the "
                                    "final set); a score's last 10 checkpoints span its last 10 000 steps", minimum=0)
    log_every: int = setting(100, "outer steps between progress lines")
    checkpoint_every: int = setting(1000, "outer steps between checkpoints")
    seed: int = setting(0, "first distillation seed: a run's seed draws its initial pairs and every outer "
                           "step's randomness", minimum=0)
    seeds: int = setting(5, "distillations per job (seeds seed, seed + 1, ...), their scores pooled, as OBD")


@dataclass(kw_only=True)
class BaselineSettings(DistillConfig):
    """What ``berl distill-baselines`` takes: OBD's hyperparameters (the evaluation's) and
    the whole-data BC's length."""

    bc_steps: int = setting(doc="Adam steps of the whole-data BC baseline")


@dataclass(kw_only=True)
class DistillSettings(DistillRun, BaselineSettings):
    """The ``distill`` block: OBD's hyperparameters (``DistillConfig``; a preset names only
    what its scale changes), the runs' lengths, and which distillations the workflow runs."""

    teacher: Literal[PRESET_ALGORITHMS] = setting(
        doc="offline algorithm whose best seed per task is the teacher", flag=False)
    sizes: list[int] = setting(doc="further N_syn of the Av-PBC size sweep", flag=False)
    tasks: list[str] | None = setting(None, "tasks to distil for (none: every task of the preset)", flag=False,
                                      unique=True)
    datasets: list[str] | None = setting(None, "datasets to distil (none: every dataset of the preset)", flag=False,
                                         unique=True)
    objectives: list[Objective] = setting(list(OBJECTIVES), "objectives distilled", flag=False, unique=True)
    generalisation: list[Objective] = setting(
        [], "objectives whose sets (at `synthetic` pairs) OBD's generalisation study also scores: "
            "generalisation_architectures and 10-policy ensembles", flag=False, min_items=0, unique=True)


@dataclass
class D4RLSettings:
    """The ``d4rl`` block: OBD's own benchmark. The teacher, CORL's Cal-QL by default (OBD
    distils CORL's Cal-QL checkpoints), trains for ``steps`` with the ``offline`` block's
    seeds, logging, checkpoints and evaluation; its sizes and settings are its own block's
    (``corl_calql``), those of another teacher the ``offline`` block's. The distillations
    take the ``distill`` block's settings, except where this block sets the outer steps."""

    datasets: list[str] = setting(d4rl.OBD_DATASETS, "D4RL names (file <root>/<name>.hdf5) or Minari ids "
                                                     "(mujoco/<env>/<level>-v0)", flag=False, min_items=0, unique=True)
    root: str = setting("data/d4rl", "folder of the D4RL files", flag=False)
    require: bool = setting(False, "true: a dataset whose source is absent stops the workflow before any job; "
                                   "false: it is left out (and the branch is off when none is present)", flag=False)
    teacher: Literal[ALGORITHMS] = setting(
        "corl_calql", "offline algorithm trained on each dataset, whose best seed is the teacher: corl_calql is "
                      "Cal-QL as CORL trains it (OBD's teachers), calql Cal-QL's bound on ExORL's CQL", flag=False)
    steps: int = setting(1_000_000, "the teacher's gradient steps (CORL's)", flag=False)
    corl_calql: dict = setting({}, "the corl_calql teacher's settings, fields of berl.offline.settings.CORLCalQLConfig "
                                   "(left out: CORL's values)", flag=False, fields_of=CORLCalQLConfig)
    outer_steps: dict = setting({}, "outer steps per objective (dbc, pbc, av_pbc); an objective left out "
                                    "takes the distill block's outer_steps", flag=False, keys=Objective)
    hopper_outer_steps: dict = setting({}, "the same for hopper's datasets (OBD runs hopper shorter)", flag=False,
                                       keys=Objective)

    def outer_steps_of(self, name: str, objective: str, default: int) -> int:
        """The outer steps of one distillation of dataset ``name``."""
        table = self.hopper_outer_steps if d4rl.environment(name) == "hopper" else self.outer_steps
        return table.get(objective, self.outer_steps.get(objective, default))
