import threading
import uuid
from pathlib import Path

import httpx

from bench.environment import SIZES, Bench
from bench.stages import sink_count, start_sink


def call(base: str, records: int) -> httpx.Response:
    body = "".join(f"<ZinojumaId>{uuid.uuid4()}</ZinojumaId>" for _ in range(records))
    return httpx.post(f"{base}/soap/spolis", content=body.encode(), timeout=30)


def test_the_sink_holds_the_call_that_reaches_the_mark_until_released(tmp_path: Path):
    """The worker-delivery stage opens its CPU window while this call is held: the count must stand
    still at the call's end, and the hold must not count as delivery time."""
    bench = Bench("memory://", tmp_path, SIZES["tiny"])
    try:
        base = start_sink(bench)
        httpx.get(f"{base}/hold", params={"at": 5}).raise_for_status()
        assert call(base, 3).status_code == 200
        assert httpx.get(f"{base}/held").text == ""
        answers: list[httpx.Response] = []
        held = threading.Thread(target=lambda: answers.append(call(base, 4)))
        held.start()
        held.join(1.0)
        assert held.is_alive() and not answers
        assert httpx.get(f"{base}/held").text == "7"
        httpx.get(f"{base}/release").raise_for_status()
        held.join(10)
        assert answers[0].text.count("PIENEMTS") == 4
        assert call(base, 2).status_code == 200
        count, seconds = sink_count(base)
        assert count == 9
        assert 0 <= seconds < 1.0
    finally:
        bench.stop_all()
