"""Benchmarks: scripts that time the model and the batch library (run them; they are not tests).

    python experiments/bench/bench_model.py    # run and round time per scenario, the dense floor, their ratio
    python experiments/bench/bench_batch.py    # commissim compare (figures, report) vs mesa.batch_run, same runs
    python experiments/bench/bench_postrun.py  # what compare does after its runs (tables, exposure, figures, report)
    python experiments/bench/bench_sweep.py    # parallel efficiency of a sweep on processes and Dask
    python experiments/bench/bench_sweep_memory.py  # a large sweep: throughput, each process's memory per 1,000 runs
"""
