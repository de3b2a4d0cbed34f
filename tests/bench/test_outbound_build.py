"""The benchmark runs (on a tiny size); its figures are never asserted."""

from bench.outbound_build import measure


def test_outbound_build_bench_runs():
    costs = measure(records=20, batch=10, rounds=1)
    assert set(costs) == {"lxml", "zeep"} and all(value > 0 for value in costs.values())
