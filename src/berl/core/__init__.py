"""Shared helpers below every stage: files, logging, checkpoints, devices, networks,
statistics, settings and constants. Imports no stage."""
