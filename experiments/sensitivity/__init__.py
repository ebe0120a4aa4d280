"""Sensitivity sweeps: which parameters drive the model's outcomes (SALib, on the batch library).

=================  ==========================================================================
module             job
=================  ==========================================================================
``space``          the sweep file (TOML): parameters, bounds, levels, distributions, outcomes;
                   its checks; the one mapping of SALib's unit sample to model values
``methods``        one record per SALib method (Sobol, Morris, LHS, FAST): settings, sample
                   size rule and warning, sampler, analyser, reported columns, figure kind
``sweep``          ``sweep()``: the sample as a batch of runs, then the analysis
``analysis``       ``analyse()``: outcomes per design point, guards, index tables
``figures``        the figures of an analysis
``report``         the console summary and ``sensitivity.md``
=================  ==========================================================================
"""

from .analysis import Analysis, analyse, outcome_matrix
from .report import summary_text
from .space import ParamSpec, SweepSpec, load_spec, map_unit
from .sweep import sweep

__all__ = ["sweep", "analyse", "Analysis", "outcome_matrix", "summary_text", "load_spec", "map_unit", "ParamSpec",
           "SweepSpec"]
