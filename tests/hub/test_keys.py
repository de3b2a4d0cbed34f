"""Processes starting together on a shared volume end up with one key, not one each."""

from __future__ import annotations

import threading

from hub.keys import read_or_create_key


def test_concurrent_starts_agree_on_one_key(tmp_path):
    path = tmp_path / "keys" / "store.key"
    results: list[bytes] = []
    start = threading.Barrier(8)

    def one(n: int) -> None:
        start.wait()
        results.append(read_or_create_key(path, lambda: f"key-{n}".encode()))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0].startswith(b"key-")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == ["store.key"]
