"""Warm start for the workers that draw compare's figures: imported by the process pool's fork server only.

``compare`` draws its figures in its batch's process pool. A worker's first figure used to pay for what
only a first figure needs: the Agg backend and PNG encoder imported, the fonts opened and the Parquet
reader started (about 0.2 s), and its first map the ICB boundaries read (about 0.1 s). Importing this
module does all of that once, in the fork server, by drawing a small figure with the fonts and sizes
the figures use; every worker forked from it starts with them in memory. It is listed in
``comparison.FIGURE_PRELOAD``; nothing else imports it. Best effort: any failure is left for the
figures to meet (and report) themselves.
"""

from __future__ import annotations


def warm() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet  # noqa: F401 - the figures read Parquet
    from scipy.special import stdtrit  # noqa: F401 - the intervals' t quantile

    from commissim.model import maps

    from ..charts import tight_png

    maps.boundaries()  # the ICB shapes of the map (cached)
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    ax.fill_between([0, 1], [0, 0.5], [0.5, 1], alpha=0.3)
    ax.scatter([0.5], [0.5])
    for size in (7, 8, 9, 10, 11):
        ax.text(0.1, 0.1, "warm 2022-23 £m %", fontsize=size)
    ax.text(0.2, 0.2, "reference (0)", style="italic", fontsize=9)
    ax.set_title("warm", fontsize=9)
    fig.suptitle("warm", fontsize=11)
    tight_png(fig, dpi=130)
    plt.close(fig)


try:
    warm()
except Exception:  # noqa: BLE001 - never break the fork server; a figure will say what is wrong
    pass
