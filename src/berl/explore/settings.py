"""The exploration stage's settings: the explorers' hyperparameters, their names and
rewards, and the ``encoder``, ``explore`` and ``collect`` blocks of a preset.

Nothing here imports torch, so the workflow reads the settings without loading the agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from berl.core.constants import REPRESENTATION_SIZE
from berl.core.settings import setting
from berl.offline.settings import TD3Config

# The explorer kinds a dataset entry's `agent` names (`exorl` imports a dataset instead).
AGENT_NAMES = ("random", "apt", "smm", "rnd")
LEARNING_AGENTS = ("apt", "smm", "rnd")  # those that train networks (and so want a GPU)
REWARD_KINDS = ("be", "renyi", "shannon")  # APT's particle rewards
REWARD_PARAMETERS = ("alpha", "beta", "q")  # of APT's particle reward
REWARD_KEYS = ("reward", *REWARD_PARAMETERS)
ENCODER_INITS = ("pretrained", "scratch")


@dataclass
class EncoderConfig:
    rep_dim: int = REPRESENTATION_SIZE  # M, which ties the Prelec beta to alpha
    hidden_dim: int = 1024
    lr: float = 1e-4


@dataclass
class ExplorerConfig(TD3Config):
    """URLB's DDPG values are TD3Config's defaults; these are the exploration loop's."""

    nstep: int = 3
    seed_frames: int = 4000  # uniform-random actions before learning starts
    update_every: int = 2
    exploration_std: float = 0.2
    # URLB's DDPG critic: Q1 and Q2 heads on one shared trunk; "separate": ExORL's two nets.
    critic: Literal["shared_trunk", "separate"] = "shared_trunk"
    # URLB samples stored (finished) episodes only; True also samples the running episode.
    replay_running_episode: bool = False
    # URLB's replay loader has 4 workers, each serving batches from every 4th episode in turn.
    # Kept as the default after measuring it (bench/bench_replay_partitions.py): it costs no
    # speed and gives the particle set URLB's, a quarter of the episodes.
    replay_partitions: int = 4


@dataclass
class APTConfig(ExplorerConfig):
    encoder_online: bool = True  # keep training the encoder while exploring, as APT does
    # Start from the domain's pretrained encoder (comparable representations across the
    # explorers of a domain) or from a fresh one, as URLB does.
    encoder_init: str = "pretrained"
    # The online encoder update pairs (s, a) with the n-step successor, as URLB's replay hands
    # its ICM (a_t with s_{t+n}); False: the one-step successor s_{t+1}.
    encoder_nstep_successor: bool = True


@dataclass
class SMMConfig(ExplorerConfig):
    skills: int = 4
    discriminator_lr: float = 1e-3
    vae_lr: float = 1e-2
    vae_beta: float = 0.5  # weight of the KL term
    vae_hidden_dim: int = 150
    vae_code_dim: int = 128


@dataclass
class RNDConfig(ExplorerConfig):
    rep_dim: int = 512  # output width of the predictor and the target
    observation_clip: float = 5.0
    # The predictor's learning rate is the learner's ``lr``, as in URLB.


@dataclass
class PretrainSettings:
    """The ``encoder`` block: pretraining of each domain's state encoder."""

    steps: int = setting(doc="gradient steps")
    dataset: str = setting("random", "the uniform-random dataset of the preset it trains on", flag=False,
                           required=True)
    batch_size: int = setting(1024, "transitions per step", required=True)
    hidden_dim: int = setting(EncoderConfig.hidden_dim, "hidden width of the forward and inverse models",
                              required=True)
    log_every: int = setting(1000, "steps between progress lines")


@dataclass
class ExploreSettings:
    """The ``explore`` block: the learning explorers (APT, SMM, RND and their DDPG backbone).
    Defaults are the agents' own (URLB's values)."""

    hidden_dim: int = setting(ExplorerConfig.hidden_dim, "hidden width of the actor and critics", required=True)
    batch_size: int = setting(ExplorerConfig.batch_size, "replay minibatch (and APT's particle set)",
                              required=True)
    seed_frames: int = setting(ExplorerConfig.seed_frames, "uniform-random steps before learning", required=True)
    encoder_online: bool = setting(APTConfig.encoder_online, "APT keeps training its encoder while exploring")
    encoder_init: Literal["pretrained", "scratch"] = setting(
        APTConfig.encoder_init, "APT's encoder starts from the domain's pretrained one, or fresh as in URLB")
    encoder_nstep_successor: bool = setting(
        APTConfig.encoder_nstep_successor,
        "APT's online encoder update pairs (s, a) with the n-step successor, as URLB's replay")
    # On by default for every kind: pytupli's BE reward does it, and Shannon and Rényi then
    # see distances on the same scale (berl.explore.rewards.ParticleReward takes it).
    knn_rms: bool = setting(True, "divide APT's k-NN distances by their running mean, as URLB's knn_rms")
    critic: Literal["shared_trunk", "separate"] = setting(
        ExplorerConfig.critic, "the explorers' critic: URLB's Q1 and Q2 heads on one shared trunk, or two "
                               "separate nets as the offline learners' (ExORL's)")
    replay_running_episode: bool = setting(
        ExplorerConfig.replay_running_episode,
        "minibatches also draw from the running episode (URLB's replay holds finished episodes only)")
    replay_partitions: int = setting(
        ExplorerConfig.replay_partitions,
        "minibatch t draws from the episodes whose index is t mod this, as URLB's replay loader's 4 workers; "
        "1: from all episodes")


@dataclass
class CollectSettings:
    """The ``collect`` block: the size and number of the datasets."""

    transitions: int = setting(doc="transitions per dataset, rounded up to whole 1000-step episodes")
    seeds: int = setting(1, "replicates of every dataset, collected with exploration seeds seed, seed + 1, ... "
                            "(the dataset's `seed` onwards); every later stage runs on each", flag=False)
    group_size: int = setting(16, "datasets of one explorer kind (APT, SMM, RND, random) collected by one job as "
                                  "a batched ensemble; 1: a job per dataset", flag=False)


def dataset_schema() -> dict:
    """The JSON schema of a dataset entry of a preset: its explorer (or an ExORL import) and
    APT's reward, exactly where APT needs one. Each rule between keys says in its
    description what it asks, the message :func:`berl.explore.agents.check_spec` gives."""
    reward_parameters = [{"required": [key]} for key in REWARD_PARAMETERS]
    return {
        "type": "object", "additionalProperties": False, "required": ["name", "agent"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$",
                     "description": "Name of the dataset in paths and tables."},
            "agent": {"enum": [*AGENT_NAMES, "exorl"],
                      "description": "Exploration agent that collects the dataset: uniform random actions, APT "
                                     "with a particle reward, SMM (state marginal matching) or RND (random network "
                                     "distillation); or `exorl`, a dataset of ExORL's imported from `source`."},
            "source": {"type": "string", "minLength": 1,
                       "description": "ExORL: folder of one agent's episode files (its `buffer/` or the folder "
                                      "holding it); `{domain}` stands for the domain, e.g. "
                                      "/data/exorl/{domain}/proto."},
            "reward": {"enum": list(REWARD_KINDS), "description": "APT's particle reward (behavioral entropy, "
                                                                  "Renyi, Shannon)."},
            "alpha": {"type": "number", "exclusiveMinimum": 0, "description": "BE: Prelec alpha."},
            "beta": {"type": "number", "exclusiveMinimum": 0,
                     "description": "BE: Prelec beta; default (log 512)^(1-alpha)."},
            "q": {"type": "number", "exclusiveMinimum": 0, "description": "Renyi order."},
            "seed": {"type": "integer", "minimum": 0, "default": 0},
        },
        "allOf": [
            {"description": "an exorl dataset needs a source, and only exorl datasets have one",
             "if": {"properties": {"agent": {"const": "exorl"}}},
             "then": {"required": ["source"]}, "else": {"not": {"required": ["source"]}}},
            {"description": "an apt dataset needs a reward, and only apt datasets have one (or alpha, beta, q)",
             "if": {"properties": {"agent": {"const": "apt"}}},
             "then": {"required": ["reward"]},
             "else": {"not": {"anyOf": [{"required": ["reward"]}, *reward_parameters]}}},
            {"description": "a be reward needs alpha and takes no q",
             "if": {"properties": {"reward": {"const": "be"}}, "required": ["reward"]},
             "then": {"required": ["alpha"], "not": {"required": ["q"]}}},
            {"description": "a renyi reward needs q and takes no alpha or beta",
             "if": {"properties": {"reward": {"const": "renyi"}}, "required": ["reward"]},
             "then": {"required": ["q"], "not": {"anyOf": reward_parameters[:2]}}},
            {"description": "a shannon reward takes no alpha, beta or q",
             "if": {"properties": {"reward": {"const": "shannon"}}, "required": ["reward"]},
             "then": {"not": {"anyOf": reward_parameters}}},
        ],
    }
