"""Offline RL: TD3, CQL and CRR (each readable top to bottom in its own module), their
registry, batched training and evaluation (rules: workflow/rules/offline.smk)."""
