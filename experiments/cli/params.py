"""``commissim params``: every parameter of the model (name, default, range, when read, doc, source)."""

from .registry import configure_params as configure
from .registry import run_params as run

__all__ = ["configure", "run"]
