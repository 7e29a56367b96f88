"""ExORL's episode files in: imported, checked, relabelled and trained on like our own datasets."""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import SMOKE, edit_config, snakemake

from berl.datasets import storage
from berl.datasets.exorl import import_exorl
from berl.datasets.relabel import relabel


@pytest.fixture
def exorl_root(walker_random, tmp_path):
    """An ExORL-style tree <root>/walker/proto/buffer/*.npz, from a collected random dataset."""
    buffer = tmp_path / "exorl" / "walker" / "proto" / "buffer"
    buffer.mkdir(parents=True)
    # Two copies of the two collected episodes, as episodes 0..3: 4000 transitions.
    for copy in range(2):
        for path in storage.episode_files(walker_random.parent / storage.EPISODE_DIR):
            stamp, index, length = path.stem.rsplit("_", 2)
            shutil.copyfile(path, buffer / f"{stamp}_{int(index) + 2 * copy}_{length}.npz")
    return tmp_path / "exorl"


def test_import_copies_the_first_episodes_and_relabels_like_a_collected_dataset(exorl_root, tmp_path):
    source = exorl_root / "walker" / "proto"
    manifest_path = import_exorl(source, tmp_path / "proto", "walker", transitions=1500)
    manifest, paths = storage.read_manifest(manifest_path)
    originals = storage.episode_files(source / "buffer")
    # 1000-step episodes: two are needed for 1500 transitions, and they are the first two.
    assert [p.name for p in paths] == [p.name for p in originals[:2]]
    assert manifest["transitions"] == 2000 and manifest["agent"] == "exorl" and manifest["domain"] == "walker"
    for copied, original in zip(paths, originals):
        mine, theirs = storage.load_episode(copied), storage.load_episode(original)
        for key in storage.EPISODE_KEYS:
            np.testing.assert_array_equal(mine[key], theirs[key])
    # Relabelling recomputes rewards from physics: the collected rewards come back.
    relabelled = relabel(manifest_path, "walker_stand", tmp_path / "stand.npz")
    stored = np.concatenate([storage.load_episode(p)["reward"][1:] for p in paths])
    np.testing.assert_allclose(relabelled.reward, stored.reshape(relabelled.reward.shape), atol=1e-6)
    # The buffer/ folder itself is accepted too.
    assert storage.read_manifest(import_exorl(source / "buffer", tmp_path / "again", "walker", 1000))[0]["transitions"] == 1000


def test_import_names_what_is_wrong(exorl_root, tmp_path):
    source = exorl_root / "walker" / "proto"
    with pytest.raises(storage.InputError, match="no such ExORL dataset folder"):
        import_exorl(exorl_root / "walker" / "aps", tmp_path / "aps", "walker", 1000)
    with pytest.raises(storage.InputError, match="4000 transitions in 4 episode files, fewer than the 10000"):
        import_exorl(source, tmp_path / "proto", "walker", 10_000)
    with pytest.raises(storage.InputError, match="the quadruped domain has 78 columns"):
        import_exorl(source, tmp_path / "proto", "quadruped", 1000)
    first = storage.episode_files(source / "buffer")[0]
    first.write_bytes(first.read_bytes()[:200])
    with pytest.raises(storage.InputError, match=f"{first.name}: truncated or corrupt"):
        import_exorl(source, tmp_path / "proto", "walker", 1000)
    assert not (tmp_path / "proto" / storage.MANIFEST).exists()


EXORL_REPORTS = ("table1.pdf", "table_coverage.pdf", "table2_obd.pdf", "fig_coverage_tsne.pdf", "fig_obd_size.pdf",
                 "fig_coverage_vs_return.pdf")


@pytest.mark.slow
def test_an_exorl_folder_shows_up_in_every_table_after_one_config_change(exorl_root, workflow_copy):
    def exorl_dataset(config):
        smoke = config["presets"]["smoke"]
        smoke.update(tasks=["walker_walk"], algorithms=["cql"])  # CQL: the distillation teacher
        smoke["datasets"] = [smoke["datasets"][0]]  # random, which the encoder needs
        smoke["offline"].update(steps=100, eval_every=100, log_every=50)  # plumbing, not learning
        smoke["distill"]["datasets"] = ["exorl_proto"]  # in place of the preset's own two
        # The one change a user makes: a dataset entry pointing at ExORL's folder.
        smoke["datasets"].append({"name": "exorl_proto", "agent": "exorl", "source": f"{exorl_root}/{{domain}}/proto"})

    edit_config(workflow_copy, exorl_dataset)
    run = snakemake(workflow_copy, "--cores", "2", *(f"reports/{name}" for name in EXORL_REPORTS), *SMOKE)
    assert run.returncode == 0, run.stderr[-4000:]
    assert (workflow_copy / "logs/smoke/import_exorl/walker/exorl_proto/seed0.log").exists()
    reports = workflow_copy / "reports"
    table = pd.read_csv(reports / "table1_full.csv", comment="#")
    row = table[table.dataset == "exorl_proto"]
    assert len(row) == 1 and np.isfinite(row["walker_walk_mean"].item())
    best = pd.read_csv(reports / "table1.csv", comment="#")
    assert best[best.family == "ExORL"].dataset.tolist() == ["exorl_proto"]
    coverage = pd.read_csv(reports / "table_coverage.csv", comment="#")
    assert len(coverage[coverage.dataset == "exorl_proto"]) == 2  # state and representation spaces
    distilled = pd.read_csv(reports / "table2_obd.csv", comment="#")
    assert set(distilled[distilled.dataset == "exorl_proto"].method) == {
        "random", "dbc", "pbc", "av_pbc", "whole_data_bc", "teacher"}
    for figure in EXORL_REPORTS:
        assert (reports / figure).stat().st_size > 0
