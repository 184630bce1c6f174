"""Metrics: one file per metric family; importing this package registers the built-in ones."""

from metrics.base import DistributionalMetric, Metric, PerSampleMetric, Pair, get_metric, list_metrics, register_metric

__all__ = ["DistributionalMetric", "Metric", "PerSampleMetric", "Pair", "get_metric", "list_metrics", "register_metric"]
