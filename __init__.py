"""commissim: an agent-based model of NHS England specialised commissioning (Mesa 3.5).

The repository root is the ``commissim`` package: ``pyproject.toml`` maps it with
setuptools' ``package-dir`` (``"commissim" = "."``), so the folders at the top install as
``commissim.model`` (``model/``), ``commissim.experiments`` (``experiments/``) and
``commissim.seeds`` (``seeds/``), and nothing named ``model`` or ``experiments`` lands at
the top of site-packages.

    from commissim import CommissioningModel, simulate
"""

from __future__ import annotations

__all__ = ["CommissioningModel", "simulate"]


def __getattr__(name):  # lazy: `import commissim` must not import Mesa
    if name in __all__:
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'commissim' has no attribute {name!r}")
