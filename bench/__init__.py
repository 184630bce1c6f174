"""bench: evaluation and benchmarking suite for text-driven talking faces that speak."""

__version__ = "0.1.0"
