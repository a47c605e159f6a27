"""Shared code of the taxi fare anomaly pipeline.

One source of truth for the trip record contract (:mod:`taximl.schema`, :mod:`taximl.validation`),
feature engineering (:mod:`taximl.features`, :mod:`taximl.fares`) and configuration
(:mod:`taximl.config`). The producer, the training scripts and the Lambda all import it; the
Lambda build bundles it. The single-record paths use the standard library only.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
