"""Benchmarks: every figure measured against limits measured in the same run."""
