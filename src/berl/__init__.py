"""Behavioral-entropy exploration datasets, offline RL and behavior distillation."""

__version__ = "0.1.0"
