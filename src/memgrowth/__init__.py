"""memgrowth: find out why a program's memory grows."""

from memgrowth.baseline import Baseline, baseline

__version__ = "0.1.0"
__all__ = ["Baseline", "baseline", "__version__"]
