"""Cost of a payment with stars, all in: API Gateway, Lambda (API and stream), DynamoDB, EventBridge.

Run: .venv/bin/python -m bench.cost [--payments 300] [--stream-shards 3]

Payments with stars at the till on registered cards (set-up not counted) go through the app
in-process on moto; their stream records are delivered to the real stream handler in full
batches of 100 per simulated stream shard (as under load, bench/heat.py). Every call is counted
(bench/metering.py): DynamoDB write and read units from item sizes, EventBridge entries, Lambda
invocations with a duration modelled from the calls each makes; priced at us-east-1 list prices."""
from __future__ import annotations

import argparse
import json
import random
from typing import Any

from bench import heat  # (its bench.metering sets the bench environment first)


def run(payments: int, members: int, stream_shards: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with heat.metered_app(stream_shards, rng) as (day, stream, meter):
        day.set_up(members, 0)
        for _, card_id, _ in day.members:  # every card read once: a warm Lambda knows its member
            day.call("GET", f"/v1/cards/{card_id}", day.pos["S1"])
        stream.deliver(counted=False)
        meter.reset()
        day.statuses.clear()
        for n in range(payments):
            _, card_id, _ = day.members[n % len(day.members)]
            store = rng.choice(heat.STORES)
            status, body = day.call("POST", f"/v1/cards/{card_id}/payments", day.pos[store],
                                    {"amount": {"amount": rng.randrange(300, 1500), "currency": "USD"}}, "payment")
            day._paid(status, body, store)
        stream.deliver()
    return {"meter": meter, "day": day, "stream": stream}


def report(result: dict[str, Any]) -> dict[str, Any]:
    meter, day, stream = result["meter"], result["day"], result["stream"]
    n = day.payments
    cost = meter.cost()
    calls: dict[str, dict[str, float]] = {phase: {name: count / n for name, count in sorted(counter.items())}
                                          for phase, counter in meter.calls.items()}
    return {
        "payments": n, "statuses": {f"{op} {status}": c for (op, status), c in day.statuses.items()},
        "stream_batches": stream.batches, "stream_records_per_payment": stream.records / n,
        "wru_per_payment": {"api": meter.wru_by_phase["api"] / n, "stream": meter.wru_by_phase["stream"] / n,
                            "total": sum(meter.wru_by_phase.values()) / n},
        "rru_per_payment": {phase: units / n for phase, units in meter.rru_by_phase.items()},
        "calls_per_payment": calls,
        "events_per_payment": sum(meter.events_entries.values()) / n,
        "lambda_invocations_per_payment": len(meter.invocations) / n,
        "cost_per_million_payments": {name: dollars / n * 1e6 for name, dollars in cost.items()},
        "cost_per_million_total": sum(cost.values()) / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--stream-shards", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    summary = report(run(args.payments, args.members, args.stream_shards, args.seed))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    wru = summary["wru_per_payment"]
    print(f"{summary['payments']} payments with stars; stream: {summary['stream_records_per_payment']:.1f} records "
          f"per payment in {summary['stream_batches']} batches")
    print(f"WRU per payment: API {wru['api']:.2f} + stream {wru['stream']:.2f} = {wru['total']:.2f}")
    print("RRU per payment:", ", ".join(f"{k} {v:.2f}" for k, v in summary["rru_per_payment"].items()))
    for phase, calls in summary["calls_per_payment"].items():
        print(f"calls per payment, {phase}:", ", ".join(f"{k} {v:.2f}" for k, v in calls.items()))
    print(f"events per payment {summary['events_per_payment']:.2f}; Lambda invocations per payment "
          f"{summary['lambda_invocations_per_payment']:.2f}\n")
    print("| cost per million payments with stars | USD |\n|---|---|")
    for name, dollars in summary["cost_per_million_payments"].items():
        print(f"| {name} | {dollars:,.2f} |")
    print(f"| **total** | **{summary['cost_per_million_total']:,.2f}** |")


if __name__ == "__main__":
    main()
