"""commissim's experiments: batches of model runs, comparisons, sensitivity sweeps, the CLI.

Rooms (see ``experiments/README.md``): ``batch/`` the batch library (runs any run function on
any executor into a results folder), ``compare/`` the scenario comparison, ``sensitivity/``
the SALib sweeps, ``cli/`` the ``commissim`` command, ``bench/`` the benchmarks; beside them
``errors.py`` (the errors every layer raises), ``atomic.py`` (atomic file writes) and
``model_runs.py`` (how batches run commissim's model). The ``*.py`` scripts at this level and
``configs/`` are the ones to copy and edit.
"""
