"""``commissim measures``: every measure of the model (name, unit, kind, resolution, definition)."""

from .registry import configure_measures as configure
from .registry import run_measures as run

__all__ = ["configure", "run"]
