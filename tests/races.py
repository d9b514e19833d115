"""HTTP requests released all at once (a barrier), for the race tests against `clinic serve`."""

from __future__ import annotations

import threading
from typing import Any

import httpx


def post_all_at_once(base: str, requests: list[tuple[str, dict[str, str], dict[str, Any]]]
                     ) -> list[httpx.Response]:
    """POST each (path, headers, JSON body) from its own thread and client, all released
    together; the answers in the same order."""
    barrier = threading.Barrier(len(requests))
    results: list[httpx.Response] = [None] * len(requests)  # type: ignore[list-item]

    def run(i: int) -> None:
        path, headers, body = requests[i]
        with httpx.Client(base_url=base, timeout=30) as client:
            barrier.wait()
            results[i] = client.post(path, headers=headers, json=body)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
