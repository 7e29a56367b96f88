"""Offline behaviour distillation (rules: workflow/rules/distill.smk)."""
