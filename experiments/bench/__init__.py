"""Benchmarks: scripts that time the model and the batch library (run them; they are not tests).

    python experiments/bench/bench_model.py    # one model run: ms per 10-round run, per round, memory
    python experiments/bench/bench_batch.py    # commissim compare vs mesa.batch_run on the same runs
    python experiments/bench/bench_sweep.py    # parallel efficiency of a sweep on processes and Dask
"""
