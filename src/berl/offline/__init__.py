"""Offline RL: TD3, CQL, CRR and Cal-QL (each readable top to bottom in its own module), their
registry, batched training and evaluation (rules: workflow/rules/offline.smk)."""
