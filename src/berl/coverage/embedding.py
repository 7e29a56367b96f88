"""Joint two-dimensional embeddings (t-SNE, PHATE) of the datasets of one domain.

The same number of states from every dataset is embedded in one run, so positions are
comparable across datasets: a dataset that covers more of the state space spreads over
more of the shared map. States are standardised with the pooled statistics first (the
state's dimensions mix angles, heights and velocities).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from berl.core.constants import EMBEDDING_METHODS
from berl.core.io import atomic_path
from berl.core.log import get_logger
from berl.coverage.measures import SharedAxes, dataset_states, representation
from berl.coverage.settings import EmbeddingSettings

log = get_logger(__name__)

def embed(points: np.ndarray, method: str, *, seed: int, threads: int, perplexity: float,
          phate_knn: int) -> np.ndarray:
    """(n, 2) coordinates of ``points`` by t-SNE or PHATE."""
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, perplexity=min(perplexity, (len(points) - 1) / 3), init="pca",
                    random_state=seed, n_jobs=threads).fit_transform(points)
    if method == "phate":
        import phate

        return phate.PHATE(n_components=2, knn=phate_knn, random_state=seed, n_jobs=threads,
                           verbose=0).fit_transform(points)
    raise ValueError(f"unknown embedding method {method!r}; known: {', '.join(EMBEDDING_METHODS)}")


def joint_embedding(manifests: dict[str, Path], method: str, out_csv: Path, settings: EmbeddingSettings, *,
                    encoder_path: Path | None = None, threads: int = 1) -> pd.DataFrame:
    """Embed ``settings.points`` states of every dataset (``manifests``: name -> manifest)
    jointly and write one row per state: dataset, x, y."""
    points, space, seed = settings.points, settings.space, settings.seed
    rng = np.random.default_rng(seed)
    samples = {name: dataset_states(path, points, rng) for name, path in manifests.items()}
    if space == "representation":
        if encoder_path is None:
            raise ValueError("the representation space needs the domain's encoder")
        samples = {name: representation(states, encoder_path) for name, states in samples.items()}
    pooled = np.concatenate(list(samples.values()))
    standardised = SharedAxes.fit(pooled, 0).standardise(pooled)
    log.info("%s of %d states (%d per dataset, %s space)", method, len(pooled), points, space)
    xy = embed(standardised, method, seed=seed, threads=threads, perplexity=settings.perplexity,
               phate_knn=settings.phate_knn)
    frame = pd.DataFrame({"dataset": np.repeat(list(samples), points), "x": xy[:, 0], "y": xy[:, 1]})
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False)
    return frame
