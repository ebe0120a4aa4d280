"""A pyabc sampler on the batch engine's executors whose result does not depend on them.

pyabc's own parallel samplers reseed every worker from the operating system, so two runs of the same
calibration differ. This one numbers the candidate particles of a generation 0, 1, 2, ... and evaluates
candidate ``i`` of generation ``t`` with numpy's global generator seeded from
``SeedSequence(root_seed, spawn_key=(t + 10, all_accepted, i))`` (the proposal, the model's seed and the
acceptance all follow from it); candidates go to the executor in batches, and the generation takes the
candidates in their order up to the n-th accepted one. The posterior is then the same on one process,
local processes or a Dask cluster of any size, with any batch size, and after a resume.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pyabc.sampler import Sampler

__all__ = ["SeededSampler", "evaluate_candidates"]

_UNPICKLED: dict[bytes, Any] = {}  # a worker's last simulate function (a generation sends the same one)


def _seed(root_seed: int, t: int, all_accepted: bool, i: int) -> None:
    state = np.random.SeedSequence(int(root_seed), spawn_key=(int(t) + 10, int(all_accepted), int(i)))
    np.random.seed(state.generate_state(4))
    random.seed(int(state.generate_state(1)[0]))


def evaluate_candidates(simulate_one_pickle: bytes, root_seed: int, t: int, all_accepted: bool,
                        ids: list[int]) -> list[tuple[int, Any]]:
    """Evaluate candidates ``ids`` of generation ``t`` (the task an executor runs): [(id, particle)]."""
    import hashlib

    import cloudpickle

    key = hashlib.sha1(simulate_one_pickle).digest()
    simulate_one = _UNPICKLED.get(key)
    if simulate_one is None:
        _UNPICKLED.clear()
        simulate_one = cloudpickle.loads(simulate_one_pickle)
        _UNPICKLED[key] = simulate_one
    out = []
    for i in ids:
        _seed(root_seed, t, all_accepted, i)
        out.append((i, simulate_one()))
    return out


class SeededSampler(Sampler):
    """Candidates numbered and seeded from the root seed, evaluated in batches on ``executor``."""

    def __init__(self, executor: cf.Executor, workers: int, root_seed: int, batch_size: int = 4,
                 on_progress: Callable[[int, int, int], None] | None = None):
        super().__init__()
        self.executor = executor
        self.workers = max(1, int(workers))
        self.root_seed = int(root_seed)
        self.batch_size = max(1, int(batch_size))
        self.on_progress = on_progress  # (accepted so far, evaluated so far, wanted)
        self.simulated = 0  # candidates evaluated in the last generation, including those past the n-th accepted
        self.seconds = 0.0

    def reset(self) -> None:
        self.simulated, self.seconds = 0, 0.0

    def __getstate__(self):
        d = dict(self.__dict__)
        d["executor"] = None
        d["on_progress"] = None
        return d

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
        import cloudpickle

        start = time.perf_counter()
        payload = cloudpickle.dumps(simulate_one)
        results: dict[int, Any] = {}
        running: set[cf.Future] = set()
        next_id = 0
        prefix = 0  # candidates 0 .. prefix-1 are all evaluated
        accepted_prefix = 0
        accepted_any = 0
        nth = None
        limit = max_eval if np.isfinite(max_eval) else None
        while True:
            while (nth is None and accepted_any < n and len(running) < 2 * self.workers
                   and (limit is None or next_id < limit)):
                ids = list(range(next_id, next_id + self.batch_size))
                next_id += self.batch_size
                running.add(self.executor.submit(evaluate_candidates, payload, self.root_seed, t, bool(all_accepted),
                                                 ids))
            if not running:
                break
            done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                for i, particle in fut.result():
                    results[i] = particle
                    accepted_any += bool(particle.accepted)
            while prefix in results:
                if results[prefix].accepted:
                    accepted_prefix += 1
                    if accepted_prefix == n:
                        nth = prefix
                prefix += 1
                if nth is not None:
                    break
            if self.on_progress is not None:
                self.on_progress(min(accepted_prefix, n), len(results), n)
            if nth is not None:
                for fut in running:  # candidates after the n-th accepted one are not needed
                    fut.cancel()
                break
        self.simulated += len(results)  # since reset(): a generation may also draw a calibration sample
        self.seconds += time.perf_counter() - start
        sample = self._create_empty_sample()
        last = nth if nth is not None else prefix - 1
        for i in range(last + 1):
            sample.append(results[i])
        self.nr_evaluations_ = last + 1
        if nth is None:
            sample.ok = False
        return sample
