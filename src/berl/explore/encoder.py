"""State encoder of ICM-APT: a 512-dimensional representation learnt from dynamics.

The trunk maps an observation to phi(s) (Linear-LayerNorm-Tanh). It is trained so that a
forward model predicts phi(s') from (phi(s), a) and an inverse model recovers a from
(phi(s), phi(s')). Pretrained once per domain on uniform-random-action data, it is the
starting point of every APT explorer and the fixed representation in which the coverage
analyses compare datasets.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from berl.core.checkpoint import check_finite, load_torch, save_torch
from berl.core.log import checked_metrics, get_logger
from berl.core.nets import EnsembleLayerNorm, EnsembleLinear, adam, member_generators, orthogonal_
from berl.core.validate import InputError, one_line
from berl.datasets import storage
from berl.explore.settings import EncoderConfig, PretrainSettings

log = get_logger(__name__)


class ICMEncoder(nn.Module):
    """One encoder per seed of ``seeds``, member m initialised from ``seeds[m]`` alone."""

    def __init__(self, obs_dim: int, action_dim: int, config: EncoderConfig, seeds: list[int]):
        super().__init__()
        self.config = config
        rep, hidden, members = config.rep_dim, config.hidden_dim, len(seeds)
        self.trunk = nn.Sequential(EnsembleLinear(members, obs_dim, rep), EnsembleLayerNorm(members, rep),
                                   nn.Tanh())
        self.forward_model = nn.Sequential(
            EnsembleLinear(members, rep + action_dim, hidden), nn.ReLU(), EnsembleLinear(members, hidden, rep)
        )
        self.inverse_model = nn.Sequential(
            EnsembleLinear(members, 2 * rep, hidden), nn.ReLU(), EnsembleLinear(members, hidden, action_dim),
            nn.Tanh(),
        )
        orthogonal_(self, member_generators(seeds, salt=3))
        self.optimizer = adam(self.parameters(), lr=config.lr)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """(K, B, obs) -> (K, B, rep)."""
        return self.trunk(obs)

    def losses(self, obs, action, next_obs) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's mean forward-model and inverse-model errors (Euclidean norms), (K,)."""
        rep, next_rep = self.trunk(obs), self.trunk(next_obs)
        predicted_next = self.forward_model(torch.cat([rep, action], dim=-1))
        predicted_action = self.inverse_model(torch.cat([rep, next_rep], dim=-1))
        forward_error = torch.linalg.vector_norm(next_rep - predicted_next, dim=-1).mean(dim=1)
        inverse_error = torch.linalg.vector_norm(action - predicted_action, dim=-1).mean(dim=1)
        return forward_error, inverse_error

    def update(self, obs, action, next_obs) -> dict[str, torch.Tensor]:
        forward_error, inverse_error = self.losses(obs, action, next_obs)
        self.optimizer.zero_grad()
        (forward_error + inverse_error).sum().backward()
        self.optimizer.step()
        return {"forward_error": forward_error.detach(), "inverse_error": inverse_error.detach()}


def save_encoder(path: Path, encoder: ICMEncoder, obs_dim: int, action_dim: int) -> None:
    """Save a one-member encoder."""
    if encoder.trunk[0].weight.shape[0] != 1:
        raise ValueError("only a one-member encoder is saved")
    save_torch(path, {"config": asdict(encoder.config), "observation_dim": obs_dim,
                      "action_dim": action_dim, "state": encoder.state_dict()})


def load_encoder(path: Path, device: torch.device, *, observation_dim: int | None = None,
                 action_dim: int | None = None, members: int = 1) -> ICMEncoder:
    """The encoder saved at ``path`` as ``members`` identical members, held to the
    observation and action sizes given."""
    saved = load_torch(path, device, ("config", "observation_dim", "action_dim", "state"), "encoder")
    for key, expected in (("observation_dim", observation_dim), ("action_dim", action_dim)):
        if expected is not None and saved[key] != expected:
            raise InputError(f"{path}: encoder with {key} {saved[key]}, the data has {expected}")
    sizes = (saved["observation_dim"], saved["action_dim"])
    check_finite(path, saved["state"])
    try:
        encoder = ICMEncoder(*sizes, EncoderConfig(**saved["config"]), seeds=[0] * members)
        encoder.load_state_dict({name: tensor.repeat(members, *[1] * (tensor.dim() - 1))
                                 for name, tensor in saved["state"].items()})
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"{path}: encoder weights do not match its settings ({one_line(exc)})") from exc
    return encoder.to(device)


def pretrain(manifest_path: Path, out_path: Path, settings: PretrainSettings, device: torch.device,
             seed: int = 0) -> ICMEncoder:
    """Train the encoder's dynamics losses on a collected dataset and save it."""
    steps, batch_size, log_every = settings.steps, settings.batch_size, settings.log_every
    _, episodes = storage.load_dataset(Path(manifest_path))
    data = storage.concatenate([
        storage.episode_transitions(e, e["reward"][1:]) for e in episodes
    ]).to_torch(device)
    obs_dim, action_dim = data["observation"].shape[1], data["action"].shape[1]
    encoder = ICMEncoder(obs_dim, action_dim, EncoderConfig(hidden_dim=settings.hidden_dim), [seed]).to(device)
    generator = torch.Generator(device).manual_seed(seed)
    size = len(data["observation"])
    start = time.perf_counter()
    for step in range(1, steps + 1):
        index = torch.randint(size, (batch_size,), generator=generator, device=device)
        metrics = encoder.update(data["observation"][index][None], data["action"][index][None],
                                 data["next_observation"][index][None])
        if step % log_every == 0 or step == steps:
            log.info("step %d/%d %s (%.1f steps/s)", step, steps, checked_metrics(metrics, step),
                     step / (time.perf_counter() - start))
    save_encoder(Path(out_path), encoder, obs_dim, action_dim)
    return encoder
