"""Dataset adapters and the registry that finds them by name."""

from bench.datasets.base import DatasetAdapter, get_dataset, list_datasets, register_dataset

__all__ = ["DatasetAdapter", "get_dataset", "list_datasets", "register_dataset"]
