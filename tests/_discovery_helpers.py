"""A module-level (picklable) run function for the discovery and search tests: the model's
``simulate``, which records every finished run in ``log_dir`` (one file per run) and raises
KeyboardInterrupt, as Ctrl-C would, once ``log_dir/stop_after`` holds a number of runs reached."""

from __future__ import annotations

import json
import uuid
from pathlib import Path


def logged(scenario="nhse_direct", years=10, rng=None, *, series=False, seeds_path=None, log_dir=None, **params):
    from commissim.model.simulation import simulate

    log = Path(log_dir) if log_dir and years > 0 else None  # years=0: the engine's input check, not a run
    if log is not None and (log / "stop_after").is_file():
        if len(list(log.glob("run-*.json"))) >= int((log / "stop_after").read_text()):
            raise KeyboardInterrupt("simulated interruption")
    out = simulate(scenario, years, rng, series=series, seeds_path=seeds_path, **params)
    if log is not None:
        record = {"scenario": scenario, "seed": int(rng), "params": params}
        (log / f"run-{uuid.uuid4().hex}.json").write_text(json.dumps(record, sort_keys=True, default=repr))
    return out


def runs_logged(log_dir) -> list[str]:
    """Every finished run as a sorted JSON text of its scenario, seed and parameters."""
    return sorted(json.dumps(json.loads(f.read_text()), sort_keys=True) for f in Path(log_dir).glob("run-*.json"))


def runs_recorded(*folders) -> set[str]:
    """The runs a batch engine folder holds as finished (its consolidated tables or finished parts), in
    the form of :func:`runs_logged`."""
    import math

    from commissim.experiments.batch import load_results
    from commissim.model.params import PARAM_BY_NAME

    out = set()
    for folder in folders:
        summ = load_results(folder, series=False, providers=False).summaries
        for row in summ.to_dict("records"):
            params = {k: v for k, v in row.items() if k in PARAM_BY_NAME and not (isinstance(v, float) and math.isnan(v))}
            params = {k: (bool(v) if PARAM_BY_NAME[k].kind == "bool" else v) for k, v in params.items()}
            record = {"scenario": row["scenario"], "seed": int(row["seed"]), "params": params}
            out.add(json.dumps(json.loads(json.dumps(record, sort_keys=True, default=repr)), sort_keys=True))
    return out


def failing(scenario="nhse_direct", years=10, rng=None, *, series=False, seeds_path=None, fail_above=None, **params):
    """The model's ``simulate``, except that a run with ``efficiency_gap > fail_above`` raises, as a broken
    run would."""
    from commissim.model.simulation import simulate

    if years > 0 and fail_above is not None and params.get("efficiency_gap", 0.0) > fail_above:
        raise RuntimeError(f"model blew up at efficiency_gap={params['efficiency_gap']:.4f}")
    return simulate(scenario, years, rng, series=series, seeds_path=seeds_path, **params)
