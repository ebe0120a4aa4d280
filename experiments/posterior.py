"""A calibration's posterior as an ensemble of futures, for every command that runs the model.

``commissim calibrate`` writes ``posterior.parquet`` (one row per accepted particle: a column per parameter
and ``weight``) and a ``manifest.json`` naming the parameters the record does not inform. This module reads
them and draws K parameter sets by weighted resampling, reproducibly
(``SeedSequence(root_seed, spawn_key=(DRAW_KEY,))``), so ``compare``, ``validate``, ``sweep``, ``discover``
and ``search`` run over the same draws. It imports nothing above the ground floor (no pyabc): reading a
posterior needs only pandas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError, option

__all__ = ["Posterior", "load_posterior", "weighted_quantile", "DRAW_KEY", "POSTERIOR_FILE"]

POSTERIOR_FILE = "posterior.parquet"
DRAW_KEY = 4242  # the spawn key of posterior draws


def weighted_quantile(values, weights, qs) -> np.ndarray:
    """Quantiles ``qs`` of ``values`` with ``weights`` (the inverse of the weighted empirical CDF, midpoints)."""
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    keep = np.isfinite(v) & (w > 0)
    v, w = v[keep], w[keep]
    if not len(v):
        return np.full(len(np.atleast_1d(qs)), np.nan)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cw = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.atleast_1d(qs), cw, v)


@dataclass
class Posterior:
    """The particles of a calibration folder and what the record left uninformed."""

    folder: Path
    particles: Any  # pandas DataFrame: a column per parameter
    weights: np.ndarray
    not_informed: list[str]
    name: str

    @property
    def parameters(self) -> list[str]:
        return list(self.particles.columns)

    def draws(self, k: int, root_seed: int = 20230401) -> list[dict[str, Any]]:
        """``k`` parameter sets by weighted resampling (the same ``k`` and seed give the same draws; the first
        ``k`` of ``k + 1`` draws are the ``k`` draws, so asking for more extends them)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise UserError(f"{option('draws')}: value {k!r} is not allowed; expected a whole number >= 1")
        rng = np.random.default_rng(np.random.SeedSequence(int(root_seed), spawn_key=(DRAW_KEY,)))
        p = self.weights / self.weights.sum()
        cdf = np.cumsum(p)
        idx = np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), len(p) - 1)
        rows = self.particles.iloc[idx]
        return [{c: _plain(v) for c, v in row.items()} for _, row in rows.iterrows()]

    def note(self) -> str:
        """The sentence to put next to every result the posterior drives."""
        text = (f"Parameters drawn from the posterior of calibration '{self.name}' ({self.folder}): "
                f"{', '.join(self.parameters)}")
        if self.not_informed:
            text += (f"; not informed by the record (prior carried forward unchanged): {', '.join(self.not_informed)}")
        return text


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def load_posterior(folder: str | Path) -> Posterior:
    """Read a ``commissim calibrate`` folder; a folder without a posterior is refused in one line."""
    import pandas as pd

    folder = Path(folder)
    path = folder / POSTERIOR_FILE
    if not path.is_file():
        raise UserError(f"{option('posterior')} '{folder}': no {POSTERIOR_FILE} there; give the folder "
                        "'commissim calibrate' wrote")
    df = pd.read_parquet(path)
    if "weight" not in df.columns or len(df) == 0:
        raise UserError(f"{option('posterior')} '{folder}': {POSTERIOR_FILE} has no particles with a weight column")
    w = df["weight"].to_numpy(float)
    if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise UserError(f"{option('posterior')} '{folder}': the weights are not all finite and >= 0")
    not_informed: list[str] = []
    name = folder.name
    manifest = folder / "manifest.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        not_informed = list(m.get("not_informed", []))
        name = m.get("config", {}).get("name", name)
    return Posterior(folder, df.drop(columns=["weight"]), w, not_informed, name)


# --------------------------------------------------------------------------- a run over the posterior (sweeps)
_DRAWS: dict[tuple[str, int, int], list[dict[str, Any]]] = {}


def posterior_simulate(scenario: str = "nhse_direct", years: int = 10, rng: Any = None, *, posterior: str,
                       draws: int, draw_seed: int, series: bool = False, seeds_path: str | None = None,
                       **parameters: Any) -> dict[str, Any]:
    """The model's ``simulate`` with the parameters a run does not set taken from a posterior draw: of the
    ``draws`` weighted draws (seed ``draw_seed``), the one the run's seed picks (``seed mod draws``). A
    module-level function, so ``sweep`` runs it on processes or Dask workers (which must read ``posterior``)."""
    from commissim.model.simulation import simulate

    key = (str(posterior), int(draws), int(draw_seed))
    sets = _DRAWS.get(key)
    if sets is None:
        sets = load_posterior(posterior).draws(int(draws), int(draw_seed))
        _DRAWS.clear()
        _DRAWS[key] = sets
    chosen = sets[int(rng) % len(sets)] if rng is not None else sets[0]
    merged = {**{k: v for k, v in chosen.items() if k not in parameters}, **parameters}
    return simulate(scenario, years, rng, series=series, seeds_path=seeds_path, **merged)
