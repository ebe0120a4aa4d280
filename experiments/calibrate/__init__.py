"""Calibration: estimate the inputs with no public figure from the record (ABC-SMC with pyabc).

``calibrate_run(CONFIG)`` (``commissim calibrate CONFIG.toml``) fits the parameters a calibration file
names, with their priors, to rows of ``seeds/calibration.csv`` and writes a folder with the posterior
(``posterior.parquet``), ``calibration.md``, figures, pyabc's database and a manifest. ``config`` reads and
checks the file; ``simulate`` the cheap model run behind a particle and the screen for parameters the facts
cannot see; ``sampler`` a pyabc sampler on the batch engine's executors with reproducible results; ``report``
and ``figures`` what is written. The posterior is read back by :mod:`commissim.experiments.posterior`.

pyabc is an optional extra: ``pip install 'commissim[calibrate]'``. Importing this package does not import
it; ``calibrate_run`` says in one line when it is missing.
"""

from .config import CalibrationConfig, CalibrationConfigError, load_config

__all__ = ["calibrate_run", "load_config", "CalibrationConfig", "CalibrationConfigError"]


def calibrate_run(*args, **kwargs):
    """See :func:`commissim.experiments.calibrate.run.calibrate_run`."""
    from .run import calibrate_run as _run

    return _run(*args, **kwargs)
