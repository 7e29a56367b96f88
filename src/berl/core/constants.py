"""Names and numbers that several stages share, declared once.

Imports nothing of the project: every layer may use it.
"""

from __future__ import annotations

import math

# M in the Prelec beta = (log M)^(1 - alpha): the paper's representation size. The
# explorers' BE reward and the BE estimators both derive their default beta from it.
REPRESENTATION_SIZE = 512


def prelec_beta(alpha: float, representation_size: int = REPRESENTATION_SIZE) -> float:
    """The paper's beta = (log M)^(1 - alpha); alpha = 1 gives beta = 1 (Shannon)."""
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be positive and finite, got {alpha}")
    if representation_size < 2:
        raise ValueError(f"representation_size must be >= 2, got {representation_size}")
    return math.log(representation_size) ** (1 - alpha)


# The behavioral-entropy alphas of the paper's grid (its datasets) and of the coverage
# estimates; alpha = 1 with beta = 1 is Shannon's entropy.
BE_ALPHAS = (0.2, 0.5, 0.7, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0)
# The Rényi orders of the coverage estimates.
RENYI_QS = (0.3, 0.5, 0.7, 0.9, 1.1)
# The offline algorithms a preset trains, and those that can teach OBD's own benchmark
# (also CORL's Cal-QL): the one list of their names (berl.offline.settings pairs each with
# its settings, berl.offline.registry with its agent).
PRESET_ALGORITHMS = ("td3", "cql", "crr", "calql")
ALGORITHMS = PRESET_ALGORITHMS + ("corl_calql",)
# OBD's distillation objectives (berl.distill).
OBJECTIVES = ("dbc", "pbc", "av_pbc")
# The joint maps of a domain's datasets (rule `embedding`, report `fig-coverage`).
EMBEDDING_METHODS = ("tsne", "phate")

# Dataset families of Table 1, in its column order; "random" is our extra baseline.
FAMILIES = ["BE", "Rényi", "Shannon", "SMM", "RND", "ExORL", "random"]


def family_of(spec: dict) -> str:
    """A dataset's family. BE with alpha = 1 (and beta = 1) is Shannon's objective."""
    agent = spec["agent"]
    if agent == "apt":
        if spec["reward"] == "be":
            shannon = spec["alpha"] == 1 and spec.get("beta", 1) == 1
            return "Shannon" if shannon else "BE"
        return {"renyi": "Rényi", "shannon": "Shannon"}[spec["reward"]]
    return {"random": "random", "smm": "SMM", "rnd": "RND", "exorl": "ExORL"}[agent]
