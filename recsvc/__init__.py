"""recsvc: the cross-sell recommendation service (serving side; no training libraries here)."""

__version__ = "0.1.0"
