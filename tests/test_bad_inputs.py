"""The corpus of bad inputs: every command-line stage given a broken file, argument or
configuration ends with one line ``berl <stage>: error: ...`` naming the culprit (no
traceback), exits with status 1, and leaves its previous outputs exactly as they were, with
no temporary file beside them.

Each case builds its inputs in a fresh folder from good files (``good``) and returns the
command line, the outputs it would write and a fragment of the expected message.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fake_episode, snapshot, write_dataset

from berl.cli import main
from berl.core.io import write_json
from berl.datasets import storage
from berl.explore.encoder import ICMEncoder, save_encoder
from berl.explore.settings import EncoderConfig

PREVIOUS = b"previous output\n"
EPISODE = 10  # steps per synthetic episode
REPORT_FLAGS = ["--preset", "smoke", "--config-hash", "0"]


@dataclass
class Case:
    argv: list[str]
    outputs: list[Path]  # files or folders the stage would write
    message: str  # a fragment of the one-line error

    def with_value(self, flag: str, value: str, message: str) -> "Case":
        """This case with ``flag``'s value replaced, failing with ``message``."""
        self.argv[self.argv.index(flag) + 1] = value
        self.message = message
        return self


@dataclass
class Good:
    """Well-formed inputs to break: a walker dataset, its relabelled transitions, a
    teacher's agents file and an encoder; and a real dm_control dataset."""

    manifest: Path
    transitions: Path
    agents: Path
    encoder: Path
    collected: Path


@pytest.fixture(scope="module")
def good(tmp_path_factory, walker_random, walker_teacher) -> Good:
    root = tmp_path_factory.mktemp("good")
    manifest = write_dataset(root / "walker", [fake_episode("walker", EPISODE, 0), fake_episode("walker", EPISODE, 1)])
    encoder = root / "encoder.pt"
    save_encoder(encoder, ICMEncoder(24, 6, EncoderConfig(hidden_dim=16), [0]), 24, 6)
    data, agents = walker_teacher
    return Good(manifest, data, agents, encoder, walker_random)


def copy_dataset(good: Good, folder: Path) -> tuple[Path, list[Path]]:
    shutil.copytree(good.manifest.parent, folder / "data")
    manifest = folder / "data" / good.manifest.name
    return manifest, storage.read_manifest(manifest)[1]


def resave(path: Path, **changes) -> Path:
    arrays = dict(np.load(path))
    arrays.update(changes)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def nan_at(array: np.ndarray, row: int) -> np.ndarray:
    array = array.astype(np.float32, copy=True)
    array[row] = np.nan
    return array


def changed_torch_file(source: Path, target: Path, change) -> Path:
    saved = torch.load(source, weights_only=False)
    change(saved)
    torch.save(saved, target)
    return target


# ------------------------------------------------------------------------------ cases

CASES = {}


def case(function):
    CASES[function.__name__] = function
    return function


def train_case(tmp: Path, data: Path, detail: str = "", task: str = "walker_walk") -> Case:
    out = tmp / "out" / "agents.pt"
    return Case(["train", "--algorithm", "td3", "--data", f"{task}={data}", "--steps", "10", "--hidden-dim", "16",
                 "--batch-size", "8", "--eval-episodes", "1", "--out", str(out)], [out], f"{data}{detail}")


def bad_transitions(changes, message: str):
    def build(tmp: Path, good: Good) -> Case:
        data = Path(shutil.copy(good.transitions, tmp / "walker_walk.npz"))
        resave(data, **changes(np.load(good.transitions)))
        return train_case(tmp, data, f": {message}")
    return build


TRANSITION_CASES = {
    "train_nan_reward": (lambda a: {"reward": nan_at(a["reward"], 17)}, "reward row 17 is not finite"),
    "train_infinite_state": (lambda a: {"observation": np.where(np.arange(len(a["observation"]))[:, None] == 3,
                                                                np.inf, a["observation"])},
                             "observation row 3 is not finite"),
    "train_nan_next_state": (lambda a: {"next_observation": nan_at(a["next_observation"], 0)},
                             "next_observation row 0 is not finite"),
    "train_observation_width": (lambda a: {"observation": a["observation"][:, :20],
                                           "next_observation": a["next_observation"][:, :20]},
                                "observation has shape (2000, 20), walker_walk has 24 columns"),
    "train_action_width": (lambda a: {"action": a["action"][:, :4]},
                           "action has shape (2000, 4), walker_walk has 6 columns"),
    "train_zero_rows": (lambda a: {key: a[key][:0] for key in a.files}, "no transitions (observation has 0 rows)"),
    "train_missing_array": (lambda a: {"discount": None}, "missing arrays ['discount']"),
    "train_rows_disagree": (lambda a: {"reward": a["reward"][:-1]}, "reward has 1999 rows, observation 2000"),
    "train_reward_matrix": (lambda a: {"reward": np.zeros((len(a["reward"]), 2), np.float32)},
                            "reward has shape (2000, 2), one value per row expected"),
    "train_text_array": (lambda a: {"discount": np.array(["1"] * len(a["discount"]))},
                         "discount holds <U1, not numbers"),
}
CASES.update({name: bad_transitions(*spec) for name, spec in TRANSITION_CASES.items()})


@case
def train_truncated_file(tmp, good):
    data = tmp / "walker_walk.npz"
    data.write_bytes(good.transitions.read_bytes()[:400])
    return train_case(tmp, data)


@case
def train_not_an_npz(tmp, good):
    data = tmp / "walker_walk.npz"
    data.write_text("observation,action\n1,2\n")
    return train_case(tmp, data)


@case
def train_missing_file(tmp, good):
    return train_case(tmp, tmp / "nowhere.npz")


@case
def train_data_without_task(tmp, good):
    return train_case(tmp, good.transitions).with_value("--data", str(good.transitions),
                                                        "--data takes NAME=PATH")


@case
def train_unknown_task(tmp, good):
    built = train_case(tmp, good.transitions, task="walker_fly")
    built.message = "walker_fly"
    return built


@case
def train_unknown_flag(tmp, good):
    built = train_case(tmp, good.transitions)
    built.argv += ["--stepz", "3"]
    built.message = "unrecognized arguments: --stepz 3"
    return built


@case
def train_bad_flag_value(tmp, good):
    return train_case(tmp, good.transitions).with_value("--steps", "many",
                                                        "argument --steps: invalid int value: 'many'")


@case
def train_unknown_algorithm(tmp, good):
    return train_case(tmp, good.transitions).with_value("--algorithm", "sac",
                                                        "argument --algorithm: invalid choice: 'sac'")


def train_settings_case(tmp, good, settings: str, message: str) -> Case:
    built = train_case(tmp, good.transitions)
    built.argv += ["--settings", settings]
    built.message = message
    return built


@case
def train_settings_not_json(tmp, good):
    return train_settings_case(tmp, good, "{offline:", "argument --settings: JSON text: not a JSON object")


@case
def train_settings_misspelt_key(tmp, good):
    return train_settings_case(tmp, good, '{"offline": {"stpes": 10}}',
                               "the offline settings (--settings or flags): unknown key(s) stpes")


@case
def train_settings_of_another_stage(tmp, good):
    return train_settings_case(tmp, good, '{"distill": {}}',
                               "--settings: block(s) distill are not read here (this stage reads: offline, evaluate)")


@case
def train_settings_of_a_wrong_type(tmp, good):
    return train_settings_case(tmp, good, '{"offline": {"seeds": "two"}}',
                               "the offline settings (--settings or flags): seeds: 'two' is not int")


@case
def train_settings_file_absent(tmp, good):
    return train_settings_case(tmp, good, f"@{tmp / 'settings.json'}",
                               f"argument --settings: {tmp / 'settings.json'}: No such file or directory")


def relabel_case(tmp, manifest, detail: str = "", task="walker_walk") -> Case:
    out = tmp / "out" / f"{task}.npz"
    return Case(["relabel", "--manifest", str(manifest), "--task", task, "--out", str(out)], [out],
                f"{manifest}{detail}")


@case
def relabel_manifest_not_json(tmp, good):
    manifest, _ = copy_dataset(good, tmp)
    manifest.write_text("{ not json")
    return relabel_case(tmp, manifest, ": cannot read JSON")


@case
def relabel_manifest_without_episodes(tmp, good):
    manifest, _ = copy_dataset(good, tmp)
    manifest.write_text(json.dumps({"domain": "walker"}))
    return relabel_case(tmp, manifest, ": not a dataset manifest")


@case
def relabel_episode_listed_but_absent(tmp, good):
    manifest, episodes = copy_dataset(good, tmp)
    episodes[1].unlink()
    return relabel_case(tmp, manifest, ": listed episode files are missing")


def relabel_episode_resaved(tmp, good, index: int, message: str, **arrays) -> Case:
    """Relabelling a copy of the good dataset whose episode ``index`` holds ``arrays``
    instead (each a function of the episode's arrays), failing with ``<episode>: message``."""
    manifest, episodes = copy_dataset(good, tmp)
    stored = dict(np.load(episodes[index]))
    resave(episodes[index], **{name: change(stored) for name, change in arrays.items()})
    built = relabel_case(tmp, manifest)
    built.message = f"{episodes[index]}: {message}"
    return built


@case
def relabel_episode_with_nan(tmp, good):
    return relabel_episode_resaved(tmp, good, 1, "observation row 4 is not finite",
                                   observation=lambda stored: nan_at(stored["observation"], 4))


@case
def relabel_episode_of_another_domain(tmp, good):
    return relabel_episode_resaved(tmp, good, 0, "observation has shape (11, 78), the walker domain has 24 columns",
                                   observation=lambda _: np.zeros((EPISODE + 1, 78), np.float32))


@case
def relabel_episode_truncated(tmp, good):
    manifest, episodes = copy_dataset(good, tmp)
    episodes[0].write_bytes(episodes[0].read_bytes()[:-200])
    built = relabel_case(tmp, manifest)
    built.message = f"{episodes[0]}: truncated or corrupt file"
    return built


@case
def relabel_episode_shorter_than_its_name(tmp, good):
    return relabel_episode_resaved(tmp, good, 0, "observation has 9 rows, the name promises 11",
                                   **{key: (lambda stored, key=key: stored[key][:-2]) for key in storage.EPISODE_KEYS})


@case
def relabel_episode_physics_of_another_width(tmp, good):
    return relabel_episode_resaved(tmp, good, 1, "physics has shape (11, 17), the walker domain has 18 columns",
                                   physics=lambda _: np.zeros((EPISODE + 1, 17), np.float32))


@case
def relabel_manifest_listing_no_episodes(tmp, good):
    manifest, _ = copy_dataset(good, tmp)
    manifest.write_text(json.dumps({"domain": "walker", "episodes": []}))
    return relabel_case(tmp, manifest, ": lists no episodes")


@case
def relabel_manifest_of_an_unknown_domain(tmp, good):
    manifest, _ = copy_dataset(good, tmp)
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "domain": "cheetah"}))
    return relabel_case(tmp, manifest, ": unknown domain 'cheetah'; known: walker, quadruped")


@case
def relabel_manifest_without_domain(tmp, good):
    manifest, _ = copy_dataset(good, tmp)
    listing = json.loads(manifest.read_text())
    del listing["domain"]
    manifest.write_text(json.dumps(listing))
    return relabel_case(tmp, manifest, ": not a dataset manifest (no 'domain' key)")


@case
def relabel_task_of_another_domain(tmp, good):
    built = relabel_case(tmp, good.manifest, task="quadruped_walk")
    built.message = "task 'quadruped_walk' does not belong to the 'walker' dataset"
    return built


def pretrain_case(tmp, manifest, detail: str = "") -> Case:
    out = tmp / "out" / "encoder.pt"
    return Case(["pretrain-encoder", "--manifest", str(manifest), "--steps", "2", "--batch-size", "4",
                 "--out", str(out)], [out], f"{manifest}{detail}")


@case
def pretrain_absent_manifest(tmp, good):
    return pretrain_case(tmp, tmp / "absent" / "manifest.json", ": cannot read JSON")


@case
def pretrain_episode_with_infinite_action(tmp, good):
    manifest, episodes = copy_dataset(good, tmp)
    action = np.load(episodes[1])["action"].copy()
    action[7, 2] = -np.inf
    resave(episodes[1], action=action)
    built = pretrain_case(tmp, manifest)
    built.message = f"{episodes[1]}: action row 7 is not finite"
    return built


@case
def pretrain_episode_of_zero_steps(tmp, good):
    manifest = write_dataset(tmp / "data", [fake_episode("walker", 0, 0)])
    built = pretrain_case(tmp, manifest)
    built.message = f"{storage.read_manifest(manifest)[1][0]}: an episode of 0 steps holds no transition"
    return built


@case
def pretrain_manifest_length_disagrees_with_the_file(tmp, good):
    manifest, episodes = copy_dataset(good, tmp)
    listing = json.loads(manifest.read_text())
    listing["episodes"][0]["length"] = 999
    manifest.write_text(json.dumps(listing))
    return pretrain_case(tmp, manifest, f": lists {episodes[0].name} with 999 steps, its name gives {EPISODE}")


def collect_case(tmp, encoder, detail: str = "") -> Case:
    out = tmp / "out" / "dataset"
    return Case(["collect", "--domain", "walker", "--dataset", '{"agent": "apt", "reward": "be", "alpha": 0.5}',
                 "--encoder", str(encoder), "--transitions", "1000", "--out", str(out)], [out], f"{encoder}{detail}")


@case
def collect_encoder_garbage(tmp, good):
    encoder = tmp / "encoder.pt"
    encoder.write_bytes(b"\x00\x01 not a torch file" * 20)
    return collect_case(tmp, encoder, ": truncated or corrupt encoder file")


@case
def collect_encoder_truncated(tmp, good):
    encoder = tmp / "encoder.pt"
    encoder.write_bytes(good.encoder.read_bytes()[:1000])
    return collect_case(tmp, encoder, ": truncated or corrupt encoder file")


@case
def collect_encoder_of_another_domain(tmp, good):
    encoder = tmp / "encoder.pt"
    save_encoder(encoder, ICMEncoder(78, 12, EncoderConfig(hidden_dim=16), [0]), 78, 12)
    return collect_case(tmp, encoder, ": encoder with observation_dim 78, the data has 24")


@case
def collect_encoder_with_nan_weights(tmp, good):
    def poison(saved):
        next(iter(saved["state"].values())).fill_(float("nan"))
    encoder = changed_torch_file(good.encoder, tmp / "encoder.pt", poison)
    first = next(iter(torch.load(good.encoder, weights_only=False)["state"]))
    return collect_case(tmp, encoder, f": {first} holds values that are not finite")


@case
def collect_agents_file_as_encoder(tmp, good):
    return collect_case(tmp, good.agents, ": no state in this encoder file")


@case
def collect_apt_without_reward(tmp, good):
    return collect_case(tmp, good.encoder).with_value("--dataset", '{"agent": "apt", "alpha": 0.5}',
                                                      "an apt dataset needs a reward")


@case
def collect_misspelt_dataset_key(tmp, good):
    return collect_case(tmp, good.encoder).with_value("--dataset", '{"agent": "apt", "reward": "be", "alhpa": 0.5}',
                                                      "unknown key(s) alhpa in the dataset")


@case
def collect_fewer_folders_than_datasets(tmp, good):
    built = collect_case(tmp, good.encoder)
    built.argv[built.argv.index("--dataset"):built.argv.index("--dataset")] = ["--dataset", '{"agent": "apt", "reward": "shannon"}']
    built.message = "2 --dataset, 1 --seed and 1 --out values: give one of each per dataset"
    return built


@case
def collect_unknown_domain(tmp, good):
    return collect_case(tmp, good.encoder).with_value("--domain", "cheetah",
                                                      "argument --domain: invalid choice: 'cheetah'")


def evaluate_case(tmp, agents, detail: str = "") -> Case:
    out = tmp / "out" / "eval.json"
    return Case(["evaluate", "--agent", str(agents), "--episodes", "1", "--out", str(out)], [out], f"{agents}{detail}")


@case
def evaluate_agents_truncated(tmp, good):
    agents = tmp / "agents.pt"
    agents.write_bytes(good.agents.read_bytes()[:2000])
    return evaluate_case(tmp, agents, ": truncated or corrupt agents file")


@case
def evaluate_agents_absent(tmp, good):
    return evaluate_case(tmp, tmp / "agents.pt", ": agents file not found")


@case
def evaluate_agents_with_nan_weights(tmp, good):
    def poison(saved):
        next(iter(saved["agent"].values())).fill_(float("inf"))
    first = next(iter(torch.load(good.agents, weights_only=False)["agent"]))
    return evaluate_case(tmp, changed_torch_file(good.agents, tmp / "agents.pt", poison),
                         f": {first} holds values that are not finite")


@case
def evaluate_agents_for_another_domain(tmp, good):
    def retask(saved):
        for member in saved["members"]:
            member["task"] = "quadruped_run"
    return evaluate_case(tmp, changed_torch_file(good.agents, tmp / "agents.pt", retask),
                         ": agents of (observation, action) sizes (24, 6), quadruped_run has (78, 12)")


@case
def evaluate_agents_with_foreign_weights(tmp, good):
    def reshape(saved):
        name = next(iter(saved["agent"]))
        saved["agent"][name] = torch.zeros(3, 3)
    return evaluate_case(tmp, changed_torch_file(good.agents, tmp / "agents.pt", reshape),
                         ": agent weights do not match their settings")


@case
def evaluate_encoder_as_agents(tmp, good):
    return evaluate_case(tmp, good.encoder, ": no algorithm, members, agent in this agents file")


def distill_case(tmp, data, agents, task="walker_walk") -> Case:
    out = tmp / "out" / "set.pt"
    return Case(["distill", "--data", str(data), "--agents", str(agents), "--task", task, "--outer-steps", "1",
                 "--out", str(out)], [out], "")


@case
def distill_action_width(tmp, good):
    data = resave(Path(shutil.copy(good.transitions, tmp / "walker_walk.npz")),
                  action=np.load(good.transitions)["action"][:, :5])
    built = distill_case(tmp, data, good.agents)
    built.message = f"{data}: action has shape"
    return built


@case
def distill_teacher_corrupt(tmp, good):
    agents = tmp / "agents.pt"
    agents.write_bytes(b"PK\x03\x04" + b"\x00" * 300)
    built = distill_case(tmp, good.transitions, agents)
    built.message = f"{agents}: truncated or corrupt agents file"
    return built


@case
def distill_teacher_without_the_task(tmp, good):
    built = distill_case(tmp, good.transitions, good.agents, task="walker_run")
    built.message = "no member for task 'walker_run'"
    return built


@case
def import_exorl_absent_folder(tmp, good):
    out = tmp / "out" / "dataset"
    source = tmp / "exorl" / "walker" / "proto"
    return Case(["import-exorl", "--source", str(source), "--domain", "walker", "--transitions", "10",
                 "--out", str(out)], [out], f"{source}: no such ExORL dataset folder")


@case
def import_exorl_episode_of_another_domain(tmp, good):
    out = tmp / "out" / "dataset"
    source = tmp / "exorl" / "quadruped" / "proto" / "buffer"
    storage.save_episode(source, 0, fake_episode("walker", EPISODE, 0))
    return Case(["import-exorl", "--source", str(source.parent), "--domain", "quadruped", "--transitions", "10",
                 "--out", str(out)], [out], "observation has shape (11, 24), the quadruped domain has 78 columns")


@case
def export_minari_relabelled_width(tmp, good):
    data = tmp / "walker_walk.npz"
    np.savez(data, observation=np.zeros((20, 30), np.float32), action=np.zeros((20, 6), np.float32),
             reward=np.zeros((20, 1), np.float32), discount=np.ones((20, 1), np.float32),
             next_observation=np.zeros((20, 30), np.float32))
    out = tmp / "out" / "walker" / "random"
    return Case(["export-minari", "--manifest", str(good.manifest), "--relabelled", f"walker_walk={data}",
                 "--dataset", "random", "--out", str(out)], [out], f"{data}: observation has shape (20, 30)")


def coverage_case(tmp, manifest, encoder) -> Case:
    out = tmp / "out" / "coverage.csv"
    datasets = json.dumps([{"name": "random", "agent": "random"}])
    return Case(["coverage", "--domain", "walker", "--datasets", datasets, "--manifests", f"random={manifest}",
                 "--encoder", str(encoder), "--points", "10", "--k", "3", "--out", str(out)], [out], "")


@case
def coverage_encoder_corrupt(tmp, good):
    encoder = tmp / "encoder.pt"
    encoder.write_text("not an encoder")
    built = coverage_case(tmp, good.manifest, encoder)
    built.message = f"{encoder}: truncated or corrupt encoder file"
    return built


@case
def coverage_datasets_not_json(tmp, good):
    return coverage_case(tmp, good.manifest, good.encoder).with_value("--datasets", "[{name: random",
                                                                      "Expecting property name")


@case
def coverage_manifests_without_name(tmp, good):
    return coverage_case(tmp, good.manifest, good.encoder).with_value("--manifests", str(good.manifest),
                                                                      "--manifests takes NAME=PATH")


@case
def coverage_dataset_repeating_one_state(tmp, good):
    manifest, episodes = copy_dataset(good, tmp)
    for episode in episodes:
        resave(episode, observation=np.ones((EPISODE + 1, 24), np.float32))
    built = coverage_case(tmp, manifest, good.encoder)
    built.message = f"{manifest}: one point occurs 10 times among the 10 drawn, more than k = 3"
    return built


@case
def coverage_fewer_points_than_neighbours(tmp, good):
    return coverage_case(tmp, good.manifest, good.encoder).with_value(
        "--k", "10", "--points 10: no 10-th neighbour (--k) among so few states")


def aggregate_case(tmp, record: Path, detail: str) -> Case:
    out = tmp / "out" / "returns.csv"
    datasets = json.dumps([{"name": "random", "agent": "random"}])
    return Case(["aggregate", "--datasets", datasets, "--out", str(out), str(record)], [out], f"{record}{detail}")


@case
def aggregate_record_not_json(tmp, good):
    record = tmp / "eval.json"
    record.write_text('{"dataset": "random", ')
    return aggregate_case(tmp, record, ": cannot read JSON")


@case
def aggregate_record_without_returns(tmp, good):
    record = tmp / "eval.json"
    record.write_text(json.dumps({"dataset": "random", "algorithm": "td3", "members": [], "curve": []}))
    return aggregate_case(tmp, record, ": missing final_return, best_return")


def table1_case(tmp, returns: Path, detail: str) -> Case:
    prefix = tmp / "out" / "table1"
    outputs = [prefix.with_suffix(suffix) for suffix in (".pdf", ".csv", ".tex")]
    reference = tmp / "random_policy.json"
    write_json(reference, {"task": "walker_walk", "policy": "uniform random", "returns": [30.0, 40.0]})
    return Case(["table1", *REPORT_FLAGS, "--returns", str(returns), "--tasks", "walker_walk",
                 "--random-reference", str(reference), "--out-prefix", str(prefix)], outputs, f"{returns}{detail}")


@case
def table1_random_reference_of_another_task(tmp, good):
    returns = tmp / "returns.csv"
    returns.write_text("# preset: smoke\ndataset,family,alpha,q,algorithm,task,collection_seed,seed,return\n"
                       "random,random,,,td3,walker_walk,0,0,10.0\n")
    built = table1_case(tmp, returns, "")
    reference = tmp / "random_policy.json"
    write_json(reference, {"task": "walker_run", "policy": "uniform random", "returns": [30.0]})
    built.message = f"no random-policy reference for walker_walk among {reference}"
    return built


@case
def table1_returns_without_columns(tmp, good):
    returns = tmp / "returns.csv"
    returns.write_text("dataset,task,return\nrandom,walker_walk,3.0\n")
    return table1_case(tmp, returns, ": missing columns family, alpha, q, algorithm, collection_seed, seed")


@case
def table1_returns_without_rows(tmp, good):
    returns = tmp / "returns.csv"
    returns.write_text("# preset: smoke\ndataset,family,alpha,q,algorithm,task,collection_seed,seed,return\n")
    return table1_case(tmp, returns, ": no rows")


@case
def table1_returns_binary(tmp, good):
    returns = tmp / "returns.csv"
    returns.write_bytes(b"\xff\xfe\x00\x81" * 50)
    return table1_case(tmp, returns, ": cannot read CSV")


@case
def table2_distilled_corrupt(tmp, good):
    distilled = tmp / "random" / "seed0" / "walker_walk" / "av_pbc.pt"
    distilled.parent.mkdir(parents=True)
    distilled.write_bytes(b"garbage")
    baselines = tmp / "random" / "seed0" / "walker_walk" / "baselines.json"
    baselines.write_text(json.dumps({"task": "walker_walk", "whole_data_bc": [1.0], "teacher": [2.0]}))
    prefix = tmp / "out" / "table2_obd"
    return Case(["table2", *REPORT_FLAGS, "--distilled", str(distilled), "--baselines", str(baselines),
                 "--datasets", json.dumps([{"name": "random", "agent": "random"}]), "--out-prefix", str(prefix)],
                [prefix.with_suffix(".pdf"), prefix.with_suffix(".csv")],
                f"{distilled}: truncated or corrupt distillation file")


@case
def estimator_figure_study_without_columns(tmp, good):
    study = tmp / "study.csv"
    study.write_text("quantity,n\nshannon,100\n")
    out = tmp / "out" / "fig.pdf"
    return Case(["fig-estimator-accuracy", *REPORT_FLAGS, "--study", str(study), "--out", str(out)], [out],
                f"{study}: missing columns sweep, distribution, dim, k, method, relative_error")


@case
def unknown_stage(tmp, good):
    return Case(["trian", "--out", str(tmp / "out" / "x")], [], "argument stage: invalid choice: 'trian'")


# ------------------------------------------------------------------------------ runner


def fill(outputs: list[Path]) -> None:
    """Earlier outputs at every path a stage would write: a file, or a folder holding one."""
    for path in outputs:
        target = path / "previous.txt" if not path.suffix else path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(PREVIOUS)


def test_the_corpus_is_large():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_gets_one_line_status_1_and_loses_nothing(name, tmp_path, good, capsys):
    built = CASES[name](tmp_path, good)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    fill(built.outputs)
    before = snapshot(out)
    capsys.readouterr()
    try:
        status = main(built.argv)
    except SystemExit as exit_:  # a usage error, raised by the parser
        status = exit_.code
    err = capsys.readouterr().err
    prefix = f"berl {built.argv[0]}: error: " if built.argv[0] != "trian" else "berl: error: "
    errors = [line for line in err.splitlines() if line.startswith(prefix)]
    assert status == 1, err
    assert "Traceback" not in err
    assert len(errors) == 1 and err.rstrip("\n").endswith(errors[0]), err
    assert built.message in errors[0]
    assert snapshot(out) == before  # the previous outputs, and no temporary file beside them
    assert {p.name for p in out.iterdir()} == {p.relative_to(out).parts[0] for p in built.outputs}


# ------------------------------------------------------------------------- disk faults


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB filesystem (tmpfs; mounting needs root, as in CI)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill_up(disk: Path) -> None:
    """Take the filesystem's last free block, so that the next write fails with ENOSPC."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 1024)
        except OSError:
            pass


def writing_stages(good: Good, disk: Path) -> dict[str, tuple[list[str], Path]]:
    """A stage of every output format (npz, torch, JSON, CSV) and the file it writes on ``disk``."""
    return {
        "relabel": (["relabel", "--manifest", str(good.collected), "--task", "walker_walk"], disk / "walker_walk.npz"),
        "train": (train_case(disk, good.transitions).argv[:-2], disk / "agents.pt"),
        "pretrain-encoder": (pretrain_case(disk, good.manifest).argv[:-2], disk / "encoder.pt"),
        "evaluate": (["evaluate", "--agent", str(good.agents), "--episodes", "1"], disk / "eval.json"),
        "estimator-study": (["estimator-study", "--sizes", "200", "--ks", "3", "--dims", "2", "--repeats", "1",
                             "--coverage-points", "200", "--coverage-k", "3", "--coverage-components", "1",
                             "--coverage-be-alphas", "2"], disk / "study.csv"),
    }


@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.parametrize("stage", ["relabel", "train", "pretrain-encoder", "evaluate", "estimator-study"])
def test_a_failed_write_keeps_the_previous_output_and_leaves_no_temporary_file(stage, fault, small_disk, good,
                                                                               capsys):
    argv, out = writing_stages(good, small_disk)[stage]
    out.write_bytes(PREVIOUS)
    if fault == "full":
        fill_up(small_disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = snapshot(small_disk)
    capsys.readouterr()
    status = main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"berl {stage}: error: ")
    assert ("No space left on device" if fault == "full" else "Read-only file system") in err.splitlines()[-1] \
        or (fault == "full" and "is the disk full?" in err.splitlines()[-1])
    assert snapshot(small_disk) == before
