"""Imports every built-in adapter module so that each registers itself."""

from bench.datasets import celebvhq, demo, fakeavceleb, folder, hdtf, lrs, voxceleb  # noqa: F401
