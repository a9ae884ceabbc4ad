"""Evaluation harness: benchmark suites, baselines, published numbers side by side (``genoseq evaluate``)."""
