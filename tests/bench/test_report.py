"""The report's reading of the gateway's floor: what its promises cost at the least, from parts measured
in the same run, and a goal set below it said to be out of reach beside its verdict."""

from __future__ import annotations

from bench.raw import Cost, RawLimits
from bench.report import _below_floor


def limits(**cpu_us: float) -> RawLimits:
    names = ("parse_validate", "publish", "consume", "build", "cryptography", "mapping", "status_rows")
    parts = dict.fromkeys(names, 0.0)
    parts.update(cpu_us)
    return RawLimits(
        **{name: Cost(wall_us=us, cpu_us=us) for name, us in parts.items()}, zeep_build_us=0.0, body_bytes=0
    )


def test_the_floor_is_what_the_gateway_cannot_skip_and_leaves_publishing_out():
    raw = limits(parse_validate=18, publish=31, cryptography=23, mapping=40, status_rows=30)
    assert raw.gateway_floor_cpu_us == 18 + 23 + 40 + 30  # the gateway publishes once per load, not per record
    assert raw.ingest_cpu_us == 18 + 31


def test_a_goal_below_the_floor_says_so_and_one_above_it_says_nothing():
    assert _below_floor([2.4, 2.52, 2.6], 1.5) == " (below the floor, ×2.52)"
    assert _below_floor([1.27], 1.3) == ""
    assert _below_floor([], 1.5) == ""
