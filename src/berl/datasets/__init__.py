"""Datasets in the ExORL format: dm_control environments, storage, relabelling, ExORL import,
Minari export (rules: workflow/rules/datasets.smk)."""
