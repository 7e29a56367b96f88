"""Reading a file never runs code: a crafted pickle in any file a stage reads is refused,
named on one line, and what the stages write still loads."""

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from berl.cli import main
from berl.core.checkpoint import code_version, load_checkpoint, load_torch, save_checkpoint, save_torch
from berl.core.validate import InputError
from berl.datasets import storage
from berl.datasets.envs import Env
from berl.distill.obd import distill
from berl.distill.settings import DistillConfig, DistillRun
from berl.explore.encoder import ICMEncoder, load_encoder, save_encoder
from berl.explore.settings import EncoderConfig
from berl.offline.registry import load_agent
from berl.offline.settings import EvaluateSettings, TrainSettings
from berl.offline.train import train
from berl.reports.distill import DISTILLED_KEYS, load_results

# Four TD3 steps of one small agent, checkpointed every two.
TINY_TRAINING = TrainSettings(steps=4, seeds=1, hidden_dim=16, batch_size=8, log_every=2, checkpoint_every=2,
                              eval_every=4)

CPU = torch.device("cpu")
REFUSED = "needs code to load"


class Touch:
    """Unpickled, it creates ``marker`` through pathlib."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


class Shell:
    """Unpickled, it creates ``marker`` through a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(params=[Touch, Shell])
def payload(request, tmp_path):
    """A payload of each kind; after the test, its marker must not exist."""
    marker = tmp_path / "marker"
    yield request.param(marker)
    assert not marker.exists(), "loading the file ran its payload"


def crafted(path: Path, keys: tuple[str, ...], payload) -> Path:
    """A torch file holding ``keys`` (so a permissive loader gets past them) and the payload."""
    torch.save({**{key: 0 for key in keys}, "agent": payload}, path)
    return path


AGENT_KEYS = ("algorithm", "observation_dim", "action_dim", "members", "config", "agent")
ENCODER_KEYS = ("config", "observation_dim", "action_dim", "state")


def assert_refused(error: InputError, path: Path, what: str) -> None:
    message = str(error)
    assert message.startswith(f"{path}: refused: this {what} file {REFUSED} (pickled ")
    assert "\n" not in message


# ------------------------------------------------------------------ crafted torch files


def test_load_torch_refuses_a_pickled_payload(tmp_path, payload):
    path = crafted(tmp_path / "file.pt", ("any",), payload)
    with pytest.raises(InputError) as error:
        load_torch(path, CPU, ("any",), "agents")
    assert_refused(error.value, path, "agents")


LOADERS = {
    "agents": (AGENT_KEYS, lambda path: load_agent(path, CPU)),
    "encoder": (ENCODER_KEYS, lambda path: load_encoder(path, CPU)),
    "distillation": (DISTILLED_KEYS, lambda path: load_results([path], source=lambda _: ("random", 0))),
}


@pytest.mark.parametrize("what", LOADERS)
def test_every_loader_refuses_a_pickled_payload(tmp_path, payload, what):
    keys, load = LOADERS[what]
    path = crafted(tmp_path / f"{what}.pt", keys, payload)
    with pytest.raises(InputError) as error:
        load(path)
    assert_refused(error.value, path, what)


def test_evaluate_refuses_a_pickled_agents_file_in_one_line(tmp_path, payload, capsys):
    path = crafted(tmp_path / "agents.pt", AGENT_KEYS, payload)
    status = main(["evaluate", "--agent", str(path), "--episodes", "1", "--out", str(tmp_path / "eval.json")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and err.startswith(f"berl evaluate: error: {path}: refused: "), err
    assert REFUSED in err
    assert not (tmp_path / "eval.json").exists()


def test_a_checkpoint_holding_a_payload_is_ignored_with_a_warning_naming_it(tmp_path, payload, caplog):
    """A checkpoint is the job's own scratch file, and one that cannot be read is ignored
    (the job starts afresh and overwrites it): a refused one is too, and said so."""
    run = {"any": "run"}
    path = tmp_path / "agents.pt.ckpt"
    torch.save({"run": run, "code": code_version(), "agent": payload}, path)
    with caplog.at_level(logging.WARNING):
        assert load_checkpoint(path, run, CPU) is None
    assert f"ignoring unreadable checkpoint, starting from the beginning: {path}: refused: " in caplog.text


# --------------------------------------------------------------------- other formats


def test_an_npz_with_pickled_objects_is_refused(tmp_path, payload):
    rows = np.zeros((3, 1), np.float32)
    transitions = tmp_path / "walker_walk.npz"
    np.savez(transitions, observation=np.array([payload] * 3, dtype=object), action=rows, reward=rows,
             discount=rows, next_observation=rows)
    episode = tmp_path / "20240101T000000_0_2.npz"
    np.savez(episode, observation=np.array([payload] * 3, dtype=object), action=rows, reward=rows,
             discount=rows, physics=rows)
    for path, load in ((transitions, storage.load_transitions), (episode, storage.load_episode)):
        with pytest.raises(InputError, match=f"^{path}: refused: an array holds pickled Python objects"):
            load(path)


def test_a_minari_dataset_that_would_make_its_environment_is_refused(tmp_path, monkeypatch):
    """Without its spaces, Minari would make the environment its metadata names: here a
    shell command."""
    from berl.datasets.d4rl import read_minari

    marker = tmp_path / "marker"
    spec = {"id": "Evil-v0", "entry_point": "os:system", "kwargs": {"command": f"touch {marker}"},
            "additional_wrappers": []}
    data = tmp_path / "minari" / "mujoco" / "hopper" / "evil-v0" / "data"
    data.mkdir(parents=True)
    (data / "metadata.json").write_text(json.dumps({"dataset_id": "mujoco/hopper/evil-v0", "data_format": "hdf5",
                                                    "env_spec": json.dumps(spec)}))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with pytest.raises(InputError, match=f"^{data / 'metadata.json'}: refused: no observation_space, action_space"):
        read_minari("mujoco/hopper/evil-v0", "hopper")
    assert not marker.exists()


EXECUTING_YAML = "presets: !!python/object/apply:os.system ['touch {marker}']\n"


def test_yaml_tags_that_run_code_are_refused(repo, tmp_path):
    """berl reads the schema with yaml.safe_load; Snakemake reads config.yaml with PyYAML's
    FullLoader (through yte), which constructs no python/object tags either."""
    from snakemake.common.configfile import load_configfile
    from snakemake.exceptions import WorkflowError

    from berl.config import check_config

    marker = tmp_path / "marker"
    schema = tmp_path / "config.schema.yaml"
    schema.write_text(EXECUTING_YAML.format(marker=marker))
    config = yaml.safe_load((repo / "config.yaml").read_text())
    with pytest.raises(yaml.YAMLError):
        check_config(config, schema)
    with pytest.raises(WorkflowError):
        load_configfile(schema)
    assert not marker.exists()


# ------------------------------------------------------- what the savers write loads


def test_a_saved_encoder_loads_back(tmp_path):
    encoder = ICMEncoder(24, 6, EncoderConfig(hidden_dim=16), [0])
    save_encoder(tmp_path / "encoder.pt", encoder, 24, 6)
    loaded = load_encoder(tmp_path / "encoder.pt", CPU, observation_dim=24, action_dim=6)
    assert loaded.config == encoder.config
    for name, tensor in encoder.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0)


def test_an_environments_random_state_resumes_from_a_checkpoint(tmp_path):
    env = Env("walker_walk", 0)
    env.reset()
    save_checkpoint(tmp_path / "ckpt", {"any": "run"}, {"environments": [env.random_state()]})
    resumed = Env("walker_walk", 7)
    resumed.set_random_state(load_checkpoint(tmp_path / "ckpt", {"any": "run"}, CPU)["environments"][0])
    np.testing.assert_array_equal(resumed.reset(), env.reset())


def test_an_explorers_state_resumes_from_a_checkpoint(tmp_path):
    from berl.explore.agents import make_agent

    def rnd():
        return make_agent([{"agent": "rnd"}], 24, 6, [3], settings={"hidden_dim": 16}, capacity=10, episode_length=5)

    agent = rnd()
    agent.act(np.zeros((1, 24), np.float32))  # moves its random generator
    save_checkpoint(tmp_path / "ckpt", {"any": "run"}, {"agent": agent.state_dict()})
    resumed = rnd()
    resumed.load_state_dict(load_checkpoint(tmp_path / "ckpt", {"any": "run"}, CPU)["agent"])
    np.testing.assert_array_equal(resumed.act(np.zeros((1, 24), np.float32)), agent.act(np.zeros((1, 24), np.float32)))


def test_a_collection_checkpoint_resumes(tmp_path, monkeypatch, caplog):
    import berl.explore.collect as collection

    save_episode = storage.save_episode

    def killed_in_episode_2(directory, index, episode):
        if index == 1:
            raise KeyboardInterrupt("killed")
        return save_episode(directory, index, episode)

    with monkeypatch.context() as patch:
        patch.setattr(storage, "save_episode", killed_in_episode_2)
        with pytest.raises(KeyboardInterrupt):
            collection.collect("walker", {"agent": "random"}, 2000, 0, tmp_path / "random")
    with caplog.at_level(logging.INFO):
        collection.collect("walker", {"agent": "random"}, 2000, 0, tmp_path / "random")
    assert "resuming after episode 1" in caplog.text and "ignoring" not in caplog.text


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A walker_walk transition file of random numbers and a small TD3 agents file."""
    root = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    rows = 64
    data = root / "walker_walk.npz"
    storage.save_transitions(data, storage.Transitions(
        observation=rng.normal(size=(rows, 24)).astype(np.float32),
        action=rng.uniform(-1, 1, (rows, 6)).astype(np.float32),
        reward=rng.uniform(size=(rows, 1)).astype(np.float32), discount=np.ones((rows, 1), np.float32),
        next_observation=rng.normal(size=(rows, 24)).astype(np.float32), episode_end=np.arange(rows) == rows - 1))
    agents = root / "agents.pt"
    train("td3", {"walker_walk": data}, agents, TINY_TRAINING, EvaluateSettings(episodes=0), CPU)
    return data, agents


def test_an_agents_file_loads_back(trained):
    _, agents = trained
    agent, saved = load_agent(agents, CPU)
    assert saved["algorithm"] == "td3" and saved["members"] == [{"task": "walker_walk", "seed": 0}]
    assert asdict(agent.config) == saved["config"]


def killed_at(monkeypatch, cls, method: str, call: int):
    """Make ``cls.method`` raise KeyboardInterrupt on its ``call``-th call."""
    real, calls = getattr(cls, method), {"n": 0}

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt("killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, dying)


def test_a_training_checkpoint_resumes(trained, tmp_path, monkeypatch, caplog):
    from berl.offline.td3 import TD3

    data, _ = trained
    args = ("td3", {"walker_walk": data}, tmp_path / "agents.pt", TINY_TRAINING, EvaluateSettings(episodes=0), CPU)
    with monkeypatch.context() as patch:
        killed_at(patch, TD3, "update", 3)
        with pytest.raises(KeyboardInterrupt):
            train(*args)
    with caplog.at_level(logging.INFO):
        train(*args)
    assert "resuming at step 2" in caplog.text and "ignoring" not in caplog.text


def test_a_distillation_checkpoint_resumes_and_its_result_loads_back(trained, tmp_path, monkeypatch, caplog):
    from berl.distill.obd import Distiller

    data, agents = trained
    config = DistillConfig(synthetic=4, layers=2, width=8, inner_steps=2, minibatches=1, batch_size=8,
                           eval_episodes=0)
    out = tmp_path / "distilled.pt"
    kwargs = dict(settings=DistillRun(**asdict(config), outer_steps=2, seed=0, seeds=1, log_every=1,
                                      checkpoint_every=1, eval_every=0), out_path=out, device=CPU)
    with monkeypatch.context() as patch:
        killed_at(patch, Distiller, "step", 2)
        with pytest.raises(KeyboardInterrupt):
            distill(data, agents, "walker_walk", **kwargs)
    with caplog.at_level(logging.INFO):
        result = distill(data, agents, "walker_walk", **kwargs)
    assert "resuming at outer step 1" in caplog.text and "ignoring" not in caplog.text
    (_, _, loaded), = load_results([out], source=lambda _: ("random", 0))
    torch.testing.assert_close(loaded["observation"], result["observation"], rtol=0, atol=0)
    assert loaded["config"] == asdict(config) and loaded["teacher"] == result["teacher"]


def test_save_torch_output_loads_back(tmp_path):
    payload = {"weights": torch.arange(3.0), "steps": [1, 2], "name": "x", "nested": {"ratio": 0.5}}
    save_torch(tmp_path / "file.pt", payload)
    loaded = load_torch(tmp_path / "file.pt", CPU, tuple(payload), "agents")
    torch.testing.assert_close(loaded.pop("weights"), payload.pop("weights"))
    assert loaded == payload
