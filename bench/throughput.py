"""Local throughput: 8 concurrent clients over real HTTP against the local stack, against 1 client.

Run: .venv/bin/python -m bench.throughput [--clients 8] [--seconds 20]

Starts what `make run` starts, in this process (in-process moto, the tables, the Chalice local
server on a free port, the stream pump delivering to the stream handler). Each client is a till
with its own registered card: it pays (a payment with stars) and reads the balance, alternately,
as fast as it can for `--seconds`. Tokens rotate over terminals so the per-principal rate limit
(600 a minute) is not what is measured. Every response must be 2xx.

In-process moto serves one request at a time (local/moto_threads.py), for the API and the stream
handler alike, so the bench also reports how much of the run moto was busy: near 100 % means the
throughput is moto's ceiling, not the app's."""
from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from bench.stack import Http, local_stack

TERMINALS = 12
MOTO_BUSY = [0.0]


def _time_moto() -> None:
    """Sum the time moto spends serving requests (inside the one-at-a-time lock)."""
    from local import moto_threads

    serve = moto_threads._original_call

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return serve(self, *args, **kwargs)
        finally:
            MOTO_BUSY[0] += time.perf_counter() - started

    moto_threads._original_call = timed


def run(http: Http, secret: str, clients: int, seconds: float) -> dict[str, float]:
    from local.tokens import make_token

    service = make_token("service", secret=secret)
    agent = make_token("agent", secret=secret, agent_id="A1")
    tills = []
    for number in range(clients):
        member = http.call("POST", "/v1/members", service, {"name": f"Bench {number}",
                                                            "email": f"bench-{clients}-{number}@example.com"})
        card = http.call("POST", "/v1/cards", agent, {"member_id": member["member_id"]})["card_id"]
        http.call("POST", f"/v1/cards/{card}/reloads", agent, {"amount": {"amount": 50_000, "currency": "USD"},
                                                               "payment_ref": "bench"})
        tokens = [make_token("pos", secret=secret, store_id="S1", terminal_id=f"T{number}-{t}") for t in range(TERMINALS)]
        tills.append((card, tokens))
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def till(index: int) -> None:
        card, tokens = tills[index]
        barrier.wait()
        count = 0
        while time.perf_counter() < deadline[0]:
            token = tokens[count % TERMINALS]
            started = time.perf_counter()
            if count % 2 == 0:
                http.call("POST", f"/v1/cards/{card}/payments", token, {"amount": {"amount": 1, "currency": "USD"}})
            else:
                http.call("GET", f"/v1/cards/{card}", token)
            latencies[index].append((time.perf_counter() - started) * 1000)
            count += 1

    threads = [threading.Thread(target=till, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started, busy_before = time.perf_counter(), MOTO_BUSY[0]
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    moto_busy = (MOTO_BUSY[0] - busy_before) / elapsed
    every = sorted(latency for per_client in latencies for latency in per_client)
    return {"requests_per_second": len(every) / elapsed, "median_ms": statistics.median(every),
            "p99_ms": every[min(len(every) - 1, int(len(every) * 0.99))], "requests": len(every),
            "moto_busy": moto_busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with local_stack(instrument_moto=_time_moto) as stack:
        one = run(stack.http, stack.secret, 1, args.seconds)
        many = run(stack.http, stack.secret, args.clients, args.seconds)
    print(f"payments with stars and balance reads, alternately, {args.seconds:.0f} s per run, over HTTP")
    print("| clients | requests/s | median ms | p99 ms | moto busy |")
    print("|---|---|---|---|---|")
    for clients, row in ((1, one), (args.clients, many)):
        print(f"| {clients} | {row['requests_per_second']:.1f} | {row['median_ms']:.0f} | {row['p99_ms']:.0f} | "
              f"{row['moto_busy']:.0%} |")
    print(f"{args.clients} clients: ×{many['requests_per_second'] / one['requests_per_second']:.2f} the throughput of 1")


if __name__ == "__main__":
    main()
