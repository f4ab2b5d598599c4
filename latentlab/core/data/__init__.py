"""Data sets: every source becomes a :class:`Dataset` (see ``dataset.py``)."""

from latentlab.core.data.dataset import Dataset

__all__ = ["Dataset"]
