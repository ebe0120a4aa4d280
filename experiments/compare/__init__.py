"""The scenario comparison: ``commissim compare`` and ``compare(...)``.

=================  ==========================================================================
module             job
=================  ==========================================================================
``comparison``     ``compare()``: the scenarios, their seeds and overrides, as one batch
``report``         ``report.md`` and the headline table printed by ``commissim compare``
``figures``        the figures of a compare folder (PNG)
=================  ==========================================================================
"""

from .comparison import compare, resolve_scenarios
from .figures import make_figures
from .report import headline_text, summary_table, write_report

__all__ = ["compare", "resolve_scenarios", "make_figures", "write_report", "headline_text", "summary_table"]
