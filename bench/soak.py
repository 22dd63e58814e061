#!/usr/bin/env python3
"""Soak the local stack the way its users do: many clients over real sockets, one stack living through it all.

Run from the project root (standard library only, so it needs no venv):

    python3 bench/soak.py                    # starts `make run` itself on a free port
    python3 bench/soak.py --seconds 300 --clients 32
    python3 bench/soak.py --base http://127.0.0.1:8000 --secret "$OMNICARD_JWT_SECRET"

It enrols members, issues cards, then runs a mixed day on every channel (till and order-ahead payments,
reloads, redemptions, refunds, transfers, balance reads, replays, duplicate enrolments that must be refused),
and afterwards waits for every wallet to agree with its cards. It fails (exit 1) on any 5xx, any connection
error, any answer outside the contract's statuses, or a view that has not caught up within --settle seconds.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Api:
    def __init__(self, base: str, secret: str):
        self.base, self.secret = base, secret

    def token(self, role: str, **claims) -> str:
        now = int(time.time())
        body = {"sub": f"{role}-{uuid.uuid4().hex[:8]}", "role": role, "iat": now, "exp": now + 7200, **claims}
        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps(body).encode())
        sig = hmac.new(self.secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
        return f"{head}.{payload}.{b64(sig)}"

    def call(self, method: str, path: str, body=None, tok=None, key=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        if key:
            headers["Idempotency-Key"] = key
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, {"_raw": text[:200]}


def money(minor: int) -> dict:
    return {"amount": minor, "currency": "USD"}


def start_stack(secret: str):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = tempfile.NamedTemporaryFile("w", prefix="soak-", suffix=".log", delete=False)
    env = dict(os.environ, PORT=str(port), OMNICARD_JWT_SECRET=secret)
    proc = subprocess.Popen(["make", "run"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = Api(f"http://127.0.0.1:{port}", secret)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"make run exited {proc.returncode}; see {log.name}")
        try:
            if api.call("GET", "/v1/health")[0] == 200:
                print(f"stack up on port {port} (log {log.name})")
                return api, proc
        except OSError:
            pass
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGTERM)
    sys.exit("the stack did not answer /v1/health in time")


class Soak:
    EXPECTED = {200, 201, 202, 204, 400, 403, 404, 409, 422, 429}

    def __init__(self, api: Api, members: int, stores: int):
        self.api = api
        self.lock = threading.Lock()
        self.codes: Counter = Counter()
        self.latency: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.payments: list[tuple[str, str, str]] = []  # (tx_id, store, card)
        self.svc = api.token("service")
        self.tills = [(f"S{i}", api.token("pos", store_id=f"S{i}", terminal_id="T1")) for i in range(stores)]
        self.members = []
        for i in range(members):
            email = f"soak-{uuid.uuid4().hex[:8]}@example.com"
            st, m = api.call("POST", "/v1/members", {"name": f"Soak {i}", "email": email}, self.svc, uuid.uuid4().hex)
            if st != 201:
                sys.exit(f"enrolment failed: {st} {m}")
            mid = m["member_id"]
            app = api.token("customer", member_id=mid, channel="app")
            cards = []
            for _ in range(random.choice((1, 1, 2))):
                st, c = api.call("POST", "/v1/cards", {"member_id": mid}, app, uuid.uuid4().hex)
                cards.append(c["card_id"])
                api.call("POST", f"/v1/cards/{c['card_id']}/reloads", {"amount": money(20000), "payment_ref": "soak"},
                         app, uuid.uuid4().hex)
            self.members.append({"id": mid, "email": email, "app": app, "cards": cards})

    def record(self, name: str, started: float, status: int, body) -> None:
        with self.lock:
            self.codes[(name, status)] += 1
            self.latency.setdefault(name, []).append(time.time() - started)
            if status not in self.EXPECTED:
                self.errors.append(f"{name}: {status} {str(body)[:160]}")

    def one(self) -> None:
        api, m = self.api, random.choice(self.members)
        card = random.choice(m["cards"])
        store, till = random.choice(self.tills)
        roll = random.random()
        t = time.time()
        try:
            if roll < 0.40:
                st, b = api.call("POST", f"/v1/cards/{card}/payments", {"amount": money(random.randint(150, 900))},
                                 till, uuid.uuid4().hex)
                name = "payment at till"
                if st == 201:
                    with self.lock:
                        self.payments.append((b["tx_id"], store, card))
            elif roll < 0.50:
                st, b = api.call("POST", f"/v1/cards/{card}/payments", {"amount": money(450), "store_id": store},
                                 m["app"], uuid.uuid4().hex)
                name = "order ahead"
            elif roll < 0.62:
                key = uuid.uuid4().hex
                body = {"amount": money(random.choice((500, 1000, 2500))), "payment_ref": "soak"}
                st, b = api.call("POST", f"/v1/cards/{card}/reloads", body, m["app"], key)
                if st == 201 and random.random() < 0.3:
                    st2, b2 = api.call("POST", f"/v1/cards/{card}/reloads", body, m["app"], key)
                    if (st2, b2) != (st, b):
                        self.record("replay differs", t, 599, (st2, b2))
                name = "reload"
            elif roll < 0.70:
                st, b = api.call("POST", f"/v1/members/{m['id']}/redemptions", {"reward_id": self.cheapest_reward()},
                                 till, uuid.uuid4().hex)
                name = "redemption"
            elif roll < 0.76 and self.payments:
                with self.lock:
                    tx, pay_store, _ = random.choice(self.payments)
                pay_till = dict(self.tills)[pay_store]
                st, b = api.call("POST", f"/v1/transactions/{tx}/refunds", {"amount": money(100)}, pay_till,
                                 uuid.uuid4().hex)
                name = "refund"
            elif roll < 0.80 and len(m["cards"]) > 1:
                a, z = m["cards"][0], m["cards"][1]
                st, b = api.call("POST", f"/v1/cards/{a}/transfers", {"to_card_id": z, "amount": money(100)},
                                 m["app"], uuid.uuid4().hex)
                name = "transfer"
            elif roll < 0.83:
                st, b = api.call("POST", "/v1/members", {"name": "Dup", "email": m["email"]}, self.svc,
                                 uuid.uuid4().hex)
                name = "duplicate enrolment"
                if st != 409:
                    self.record("duplicate enrolment not refused", t, 599, (st, b))
            else:
                st, b = api.call("GET", f"/v1/cards/{card}", tok=till)
                name = "balance read"
        except OSError as exc:  # resets, refusals, timeouts: a client would see these as failures
            with self.lock:
                self.errors.append(f"connection: {exc!r}")
            return
        self.record(name, t, st, b)

    _reward = None

    def cheapest_reward(self) -> str:
        if Soak._reward is None:
            st, rw = self.api.call("GET", "/v1/rewards", tok=self.svc)
            Soak._reward = min(rw["items"], key=lambda r: r["stars"])["reward_id"]
        return Soak._reward

    def run(self, clients: int, seconds: float) -> None:
        stop = time.time() + seconds

        def worker():
            while time.time() < stop:
                self.one()

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def settle(self, seconds: float) -> list[str]:
        """Every wallet must show what its cards show, within `seconds`."""
        behind = []
        deadline = time.time() + seconds
        for m in self.members:
            truth = {c: self.api.call("GET", f"/v1/cards/{c}", tok=m["app"])[1]["balance"]["amount"] for c in m["cards"]}
            while True:
                st, w = self.api.call("GET", f"/v1/members/{m['id']}", tok=m["app"])
                shown = {c.get("card_id"): c.get("balance", {}).get("amount") for c in (w or {}).get("cards", [])}
                if all(shown.get(c) == v for c, v in truth.items()):
                    break
                if time.time() > deadline:
                    behind.append(f"{m['id']}: wallet {shown} vs cards {truth}")
                    break
                time.sleep(0.2)
        return behind


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="a running stack's URL (default: start `make run` here)")
    ap.add_argument("--secret", default=os.environ.get("OMNICARD_JWT_SECRET"), help="its HS256 secret")
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--stores", type=int, default=4)
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients, one connection each")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--settle", type=float, default=10, help="seconds the views get to catch up afterwards")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    random.seed(args.seed)
    proc = None
    if args.base:
        if not args.secret:
            sys.exit("--base needs --secret (or OMNICARD_JWT_SECRET)")
        api = Api(args.base.rstrip("/"), args.secret)
    else:
        api, proc = start_stack("soak-" + uuid.uuid4().hex)
    try:
        soak = Soak(api, args.members, args.stores)
        print(f"{len(soak.members)} members, {sum(len(m['cards']) for m in soak.members)} cards; "
              f"{args.clients} clients for {args.seconds:.0f} s")
        started = time.time()
        soak.run(args.clients, args.seconds)
        total = sum(soak.codes.values())
        print(f"{total} requests in {time.time() - started:.0f} s ({total / args.seconds:.1f}/s)")
        for name in sorted(soak.latency):
            lat = sorted(soak.latency[name])
            codes = {st: n for (nm, st), n in soak.codes.items() if nm == name}
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"  {name:22} n={len(lat):5}  p50 {statistics.median(lat) * 1000:6.0f} ms  p99 {p99 * 1000:6.0f} ms  {codes}")
        behind = soak.settle(args.settle)
        problems = soak.errors + behind
        for line in problems[:20]:
            print("PROBLEM", line)
        print("soak: " + ("clean" if not problems else f"{len(problems)} problems"))
        return 1 if problems else 0
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
