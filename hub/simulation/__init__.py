"""Realistic test data and load generation for the simulators, the demo and the benchmarks."""
