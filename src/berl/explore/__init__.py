"""Exploration: the state encoder, particle rewards, the explorers and dataset collection
(rules: workflow/rules/explore.smk)."""
