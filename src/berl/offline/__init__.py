"""Offline RL algorithms, each readable top to bottom in its own module."""
