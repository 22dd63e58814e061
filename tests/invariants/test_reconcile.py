"""The invariant checker (`omnicard reconcile`): a busy, correct world passes every invariant, and
each kind of corruption a bug could leave behind is reported by the invariant that owns it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib.domain.ledger import parse_tx_id, tx_id_for
from chalicelib.ops import cli
from chalicelib.ops.reconcile import Scope, reconcile
from chalicelib.services import stars as star_service
from chalicelib.settings import get_settings
from chalicelib.store.client import from_attributes, to_attributes
from tests.conftest import Api, money, tokens
from tests.reconciled import reconcile_now, settle
from tests.stack import fresh_stack


def _busy_world(api, clock):
    """Every kind of transaction, on every channel; returns the ids worth corrupting."""
    ada, bob = api.enrol(), api.enrol()
    app = tokens.customer(ada["member_id"], "app")
    ada_card = api.issue(ada["member_id"], app)["card_id"]
    bob_card = api.issue(bob["member_id"])["card_id"]
    issued = api.post("/v1/cards", tokens.pos("S2"), {}).json
    gift = issued["card_id"]
    api.reload(ada_card, 20_000, app)
    api.reload(bob_card, 5_000, tokens.customer(bob["member_id"], "web"))
    api.reload(gift, 3_000, tokens.pos("S2"))
    payment = api.pay(ada_card, 4_000, tokens.pos("S1")).json
    api.pay(ada_card, 1_250, app)
    api.pay(gift, 700, tokens.pos("S2"))
    short = api.post("/v1/cards", tokens.pos("S1"), {}).json
    api.reload(short["card_id"], 500, tokens.pos("S1"))
    taken = clock.now().isoformat()
    batch = api.post("/v1/pos/batches", tokens.pos("S1"), {"items": [
        {"item_key": "till-1", "card_id": ada_card, "amount": money(900), "occurred_at": taken},
        {"item_key": "till-2", "card_number": short["card_number"], "amount": money(800), "occurred_at": taken},
        {"item_key": "till-3", "card_number": "6000000000000000", "amount": money(300), "occurred_at": taken}]})
    assert [r["status"] for r in batch.json["results"]] == ["applied", "partial", "declined"], batch.json
    api.post(f"/v1/members/{bob['member_id']}/purchases", tokens.pos("S1"), {"amount": money(9_000), "tender": "cash"})
    api.post(f"/v1/members/{ada['member_id']}/redemptions", tokens.pos("S1"), {"reward_id": "rw_25"})
    api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos("S1"), {"amount": money(1_000)})
    api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.agent(), {})
    api.post(f"/v1/cards/{ada_card}/transfers", tokens.agent(), {"to_card_id": bob_card, "amount": money(500)})
    api.post("/v1/cards/register", tokens.agent(), {"card_number": issued["card_number"], "member_id": bob["member_id"]})
    api.request("PUT", f"/v1/cards/{bob_card}/auto-reload", tokens.agent(),
                {"threshold": money(5_000), "amount": money(2_000), "payment_ref": "psp-auto"})
    api.pay(bob_card, 1_000, tokens.pos("S2"))
    api.post(f"/v1/cards/{gift}/freeze", tokens.agent())
    api.post(f"/v1/cards/{gift}/transfers", tokens.agent(), {"to_card_id": bob_card})
    api.post(f"/v1/cards/{ada_card}/adjustments", tokens.agent(), {"amount": money(-300), "reason_code": "correction"})
    large = api.post(f"/v1/cards/{bob_card}/adjustments", tokens.agent(),
                     {"amount": money(7_000), "reason_code": "service_recovery"}).json["adjustment_id"]
    api.post(f"/v1/adjustments/{large}/approve", tokens.supervisor("S-1"))
    refused = api.post(f"/v1/members/{ada['member_id']}/adjustments", tokens.agent(),
                       {"stars": 900, "reason_code": "goodwill"}).json["adjustment_id"]
    api.post(f"/v1/adjustments/{refused}/reject", tokens.supervisor("S-2"))
    api.post(f"/v1/members/{bob['member_id']}/adjustments", tokens.agent(), {"stars": 40, "reason_code": "goodwill"})
    pre_auth = api.post(f"/v1/cards/{ada_card}/holds", tokens.pos("S1"), {"amount": money(2_000)}).json
    api.post(f"/v1/holds/{pre_auth['hold_id']}/capture", tokens.pos("S1"), {"amount": money(1_800)})
    voided = api.post(f"/v1/cards/{ada_card}/holds", app, {"amount": money(900), "store_id": "S1"}).json
    api.post(f"/v1/holds/{voided['hold_id']}/void", app)
    api.post(f"/v1/cards/{ada_card}/holds", tokens.pos("S1"), {"amount": money(300), "expires_in": 60})
    clock.advance(timedelta(days=200))
    star_service.expire_due_stars()
    open_hold = api.post(f"/v1/cards/{bob_card}/holds", tokens.pos("S2"), {"amount": money(1_500), "expires_in": 604_800})
    assert open_hold.status_code == 201, open_hold.json
    return {"ada": ada["member_id"], "bob": bob["member_id"], "ada_card": ada_card, "bob_card": bob_card,
            "gift": gift, "payment": payment["tx_id"], "large_adjustment": large, "captured_hold": pre_auth["hold_id"],
            "voided_hold": voided["hold_id"], "open_hold": open_hold.json["hold_id"]}


@dataclass
class World:
    api: Api
    ids: dict[str, str]
    items: dict[tuple[str, str, str], dict[str, Any]]  # (table, PK, SK) → item, as built


def _all_items() -> dict[tuple[str, str, str], dict[str, Any]]:
    client, settings = boto3.client("dynamodb"), get_settings()
    found = {}
    for table in (settings.ledger_table, settings.views_table):
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                found[(table, item["PK"]["S"], item["SK"]["S"])] = item
    return found


@pytest.fixture(scope="module")
def built_world():
    """One busy world for the whole module (moto slows down as tables grow, so build it once)."""
    with fresh_stack() as stack:
        ids = _busy_world(stack.api, stack.clock)
        settle(stack.drain)
        yield World(stack.api, ids, _all_items())


@pytest.fixture
def world(built_world):
    """The busy world, put back as it was built after each test."""
    yield built_world
    client = boto3.client("dynamodb")
    now = _all_items()
    for (table, pk, sk), item in now.items():
        if (table, pk, sk) not in built_world.items:
            client.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
    for (table, pk, sk), item in built_world.items.items():
        if now.get((table, pk, sk)) != item:
            client.put_item(TableName=table, Item=item)


def test_a_busy_world_passes_every_invariant_after_the_stream_is_drained(world):
    report = reconcile_now(views=True, history=True, expiry_grace=timedelta(hours=26))

    assert report.ok, report.render()
    assert all(o.checked > 0 for o in report.outcomes if not o.skipped), report.render()
    # staff_actions_audited is skipped only by a version that keeps no audit records yet (issue 5).
    assert {o.invariant for o in report.outcomes if o.skipped} <= {"staff_actions_audited"}
    assert "all invariants hold" in report.render()


def _ledger():
    return boto3.client("dynamodb"), get_settings().ledger_table


def _get(pk, sk, table=None):
    client, ledger = _ledger()
    return from_attributes(client.get_item(TableName=table or ledger, Key=to_attributes({"PK": pk, "SK": sk}))["Item"])


def _put(item, table=None):
    client, ledger = _ledger()
    client.put_item(TableName=table or ledger, Item=to_attributes(item))


def _delete(pk, sk):
    client, ledger = _ledger()
    client.delete_item(TableName=ledger, Key=to_attributes({"PK": pk, "SK": sk}))


def _set(pk, sk, table=None, **fields):
    _put({**_get(pk, sk, table), **fields}, table)


def _balance_without_entry(ids):
    _set(f"CARD#{ids['ada_card']}", "CARD", balance=_get(f"CARD#{ids['ada_card']}", "CARD")["balance"] + 1)


def _overdraft_that_sums_right(ids):
    """A debit the guard should have refused: the ledger still sums to the balance, which is < 0."""
    card = _get(f"CARD#{ids['bob_card']}", "CARD")
    last = _get(f"CARD#{ids['bob_card']}", f"TX#{card['ledger_seq']:012d}")
    seq, debit = card["ledger_seq"] + 1, -(card["balance"] + 100)
    _put({**last, "SK": f"TX#{seq:012d}", "seq": seq, "tx_id": tx_id_for(ids['bob_card'], seq), "kind": "payment",
          "amount": money(debit), "balance_after": money(-100), "idempotency_key": "overdraft", "stars": 0})
    _set(f"CARD#{ids['bob_card']}", "CARD", balance=-100, ledger_seq=seq, version=card["version"] + 1)


def _lost_entry(ids):
    _delete(f"CARD#{ids['ada_card']}", f"TX#{2:012d}")


def _entry_without_its_card_update(ids):
    card = _get(f"CARD#{ids['ada_card']}", "CARD")
    last = _get(f"CARD#{ids['ada_card']}", f"TX#{card['ledger_seq']:012d}")
    seq = card["ledger_seq"] + 1
    _put({**last, "SK": f"TX#{seq:012d}", "seq": seq, "tx_id": tx_id_for(ids['ada_card'], seq), "idempotency_key": "x"})


def _approved_by_its_own_requester(ids):
    adjustment = _get(f"ADJ#{ids['large_adjustment']}", "ADJ")
    _put({**adjustment, "decided_by": adjustment["agent_id"]})


def _stars_minted(ids):
    member = _get(f"MEMBER#{ids['bob']}", "MEMBER")
    lots = {**member["lots"], "2099-01-01T00:00:00.000Z": 50}
    _set(f"MEMBER#{ids['bob']}", "MEMBER", lots=lots, stars=sum(lots.values()))


def _refunded_twice(ids):
    card_id, seq = parse_tx_id(ids["payment"])
    card = _get(f"CARD#{card_id}", "CARD")
    refund = next(_get(f"CARD#{card_id}", f"TX#{s:012d}") for s in range(card["ledger_seq"], 0, -1)
                  if _get(f"CARD#{card_id}", f"TX#{s:012d}")["kind"] == "refund")
    new_seq = card["ledger_seq"] + 1
    balance = card["balance"] + refund["amount"]["amount"]
    _put({**refund, "SK": f"TX#{new_seq:012d}", "seq": new_seq, "tx_id": tx_id_for(card_id, new_seq),
          "balance_after": money(balance), "idempotency_key": "again"})
    _set(f"CARD#{card_id}", "CARD", balance=balance, ledger_seq=new_seq, version=card["version"] + 1)


def _two_transactions_under_one_key(ids):
    card = _get(f"CARD#{ids['ada_card']}", "CARD")
    first = _get(f"CARD#{ids['ada_card']}", f"TX#{1:012d}")
    seq = card["ledger_seq"] + 1
    _put({**first, "SK": f"TX#{seq:012d}", "seq": seq, "tx_id": tx_id_for(ids['ada_card'], seq),
          "balance_after": money(card["balance"] + first["amount"]["amount"])})
    _set(f"CARD#{ids['ada_card']}", "CARD", balance=card["balance"] + first["amount"]["amount"], ledger_seq=seq,
         version=card["version"] + 1)


def _offline_item_applied_twice(ids):
    """The same till item paid a second time (its record untouched), the card and ledger summing right."""
    card = _get(f"CARD#{ids['ada_card']}", "CARD")
    offline = next(e for e in (_get(f"CARD#{ids['ada_card']}", f"TX#{s:012d}") for s in range(1, card["ledger_seq"] + 1))
                   if e.get("offline"))
    seq, balance = card["ledger_seq"] + 1, card["balance"] + offline["amount"]["amount"]
    _put({**offline, "SK": f"TX#{seq:012d}", "seq": seq, "tx_id": tx_id_for(ids['ada_card'], seq),
          "balance_after": money(balance)})
    _set(f"CARD#{ids['ada_card']}", "CARD", balance=balance, ledger_seq=seq, version=card["version"] + 1)


def _offline_item_record_says_declined(ids):
    client, ledger = _ledger()
    record = next(from_attributes(item) for item in client.scan(TableName=ledger)["Items"]
                  if item["PK"]["S"].startswith("OFFLINE#") and item.get("tx_id"))
    _put({**record, "status": "declined", "uncollected": record["amount"]})


def _stored_response_names_nothing(ids):
    client, ledger = _ledger()
    # A stored response that names a committed transaction (a pending adjustment's tx_id is null).
    record = next(record for record in (from_attributes(item) for item in client.scan(TableName=ledger)["Items"])
                  if record["PK"].startswith("IDEM#")
                  and isinstance(json.loads(record.get("response_body", "{}")).get("tx_id"), str))
    body = json.loads(record["response_body"])
    body["tx_id"] = body["tx_id"] + "0"
    _put({**record, "response_body": json.dumps(body)})


def _daily_tally_off(ids):
    tally = next(item for (_, pk, _), item in _all_items().items() if pk == f"ADJTALLY#{ids['ada_card']}")
    _set(tally["PK"]["S"], tally["SK"]["S"], total=int(tally["total"]["N"]) + 1)


def _adjusted_past_the_daily_limit_alone(ids):
    card = _get(f"CARD#{ids['ada_card']}", "CARD")
    entry = next(e for e in (_get(f"CARD#{ids['ada_card']}", f"TX#{s:012d}") for s in range(1, card["ledger_seq"] + 1))
                 if e["kind"] == "adjustment")
    _put({**entry, "amount": money(-5_001)})


def _wallet_stale(ids):
    _set(f"WALLET#{ids['ada']}", f"CARD#{ids['ada_card']}", get_settings().views_table, source_version=1,
         doc={**_get(f"WALLET#{ids['ada']}", f"CARD#{ids['ada_card']}", get_settings().views_table)["doc"],
              "balance": money(1)})


def _report_counted_twice(ids):
    client = boto3.client("dynamodb")
    views = get_settings().views_table
    row = next(from_attributes(item) for item in client.scan(TableName=views)["Items"]
               if item["PK"]["S"].startswith("REPORT#") and item["SK"]["S"] != "AS_OF")
    count = next(name for name in row if name.endswith("|count"))
    _put({**row, count: row[count] + 1}, views)


def _liability_off(ids):
    """Seven stars too many on one shard of the liability (its shards are summed)."""
    client = boto3.client("dynamodb")
    views = get_settings().views_table
    totals = next(from_attributes(item) for item in client.scan(TableName=views)["Items"]
                  if item["PK"]["S"].startswith("LIABILITY#") and item["SK"]["S"] == "TOTALS")
    _put({**totals, "stars": totals.get("stars", 0) + 7}, views)


def _activity_lost(ids):
    client = boto3.client("dynamodb")
    views = get_settings().views_table
    item = next(item for item in client.scan(TableName=views)["Items"] if item["PK"]["S"] == f"ACTIVITY#{ids['ada']}")
    client.delete_item(TableName=views, Key={"PK": item["PK"], "SK": item["SK"]})


def _entry_edited(ids):
    """A change no other invariant sees: the time of a transaction."""
    _set(f"CARD#{ids['ada_card']}", f"TX#{2:012d}", created_at="2020-01-01T00:00:00.000Z")


def _entries_reordered(ids):
    """Two transactions swapped in place (each keeps its key and sequence number)."""
    pk = f"CARD#{ids['ada_card']}"
    second, third = _get(pk, f"TX#{2:012d}"), _get(pk, f"TX#{3:012d}")
    keep = ("PK", "SK", "seq", "tx_id")
    _put({**third, **{k: second[k] for k in keep}})
    _put({**second, **{k: third[k] for k in keep}})


def _member_entry_edited(ids):
    _set(f"MEMBER#{ids['bob']}", f"TX#{1:012d}", store_id="S9")


def _head_rewound(ids):
    """The newest transaction and the card's sequence rolled back together (the head stays)."""
    card = _get(f"CARD#{ids['gift']}", "CARD")
    last = _get(f"CARD#{ids['gift']}", f"TX#{card['ledger_seq']:012d}")
    _delete(f"CARD#{ids['gift']}", f"TX#{card['ledger_seq']:012d}")
    _set(f"CARD#{ids['gift']}", "CARD", ledger_seq=card["ledger_seq"] - 1, balance=card["balance"] - last["amount"]["amount"])


def _hold_key(hold_id):
    from chalicelib.domain.holds import parse_hold_id
    card_id, seq = parse_hold_id(hold_id)
    return f"CARD#{card_id}", f"HOLD#{seq:012d}", str(seq)


def _held_more_than_its_hold(ids):
    pk, _, number = _hold_key(ids["open_hold"])
    card = _get(pk, "CARD")
    _set(pk, "CARD", holds={**card["holds"], number: {**card["holds"][number], "amount": 1_600}})


def _hold_left_open_after_its_void(ids):
    pk, sk, number = _hold_key(ids["voided_hold"])
    record, card = _get(pk, sk), _get(pk, "CARD")
    _set(pk, "CARD", holds={**card["holds"], number: {"amount": record["amount"], "expires_at": "2099-01-01T00:00:00.000Z"}})


def _held_past_the_balance(ids):
    pk, _, number = _hold_key(ids["open_hold"])
    card = _get(pk, "CARD")
    _set(pk, "CARD", balance=1_000)  # (the ledger no longer sums either; each invariant reports its part)


def _voided_hold_captured_too(ids):
    pk, sk, _ = _hold_key(ids["voided_hold"])
    _set(pk, sk, status="captured", captured=900)


def _captured_more_than_held(ids):
    pk, sk, _ = _hold_key(ids["captured_hold"])
    _set(pk, sk, amount=1_000)


@pytest.mark.parametrize("corrupt, invariant", [
    (_held_more_than_its_hold, "held_equals_open_holds"),
    (_hold_left_open_after_its_void, "held_equals_open_holds"),
    (_held_past_the_balance, "held_equals_open_holds"),
    (_voided_hold_captured_too, "holds_settled_once"),
    (_captured_more_than_held, "holds_settled_once"),
    (_entry_edited, "ledger_chains_verify"),
    (_lost_entry, "ledger_chains_verify"),
    (_entries_reordered, "ledger_chains_verify"),
    (_member_entry_edited, "ledger_chains_verify"),
    (_head_rewound, "ledger_chains_verify"),
    (_balance_without_entry, "card_balance_equals_ledger"),
    (_overdraft_that_sums_right, "card_balance_within_bounds"),
    (_lost_entry, "card_ledger_gapless"),
    (_entry_without_its_card_update, "card_ledger_gapless"),
    (_stars_minted, "member_stars_equal_ledger"),
    (_refunded_twice, "refunds_within_payment"),
    (_two_transactions_under_one_key, "one_transaction_per_idempotency_key"),
    (_approved_by_its_own_requester, "adjustments_maker_checker"),
    (_daily_tally_off, "adjustments_daily_limit"),
    (_adjusted_past_the_daily_limit_alone, "adjustments_daily_limit"),
    (_stored_response_names_nothing, "idempotency_records_match_ledger"),
    (_offline_item_applied_twice, "offline_items_applied_once"),
    (_offline_item_record_says_declined, "offline_items_applied_once"),
    (_wallet_stale, "wallet_view_matches"),
    (_report_counted_twice, "channel_report_matches"),
    (_liability_off, "liability_view_matches"),
    (_activity_lost, "activity_view_matches"),
], ids=lambda value: getattr(value, "__name__", value))
def test_each_corruption_is_reported_by_its_invariant(world, corrupt, invariant):
    corrupt(world.ids)

    report = reconcile_now(views=True, history=False)

    breached = {o.invariant for o in report.outcomes if o.breaches}
    assert invariant in breached, report.render()
    assert not report.ok


@pytest.mark.parametrize("corrupt, owner, where", [
    (_entry_edited, "ada_card", "entry 2 "),
    (_lost_entry, "ada_card", "entry 2 "),  # entry 3 now follows entry 1
    (_entries_reordered, "ada_card", "entry 2 "),
    (_member_entry_edited, "bob", "entry 1 "),
    (_head_rewound, "gift", "its head"),
], ids=lambda value: getattr(value, "__name__", value))
def test_a_broken_chain_is_reported_at_its_first_broken_link_and_nowhere_else(world, corrupt, owner, where):
    corrupt(world.ids)

    report = reconcile_now(views=False, history=False)

    [outcome] = [o for o in report.outcomes if o.invariant == "ledger_chains_verify"]
    assert [b.subject for b in outcome.breaches] == [world.ids[owner]], report.render()
    assert f"chain breaks at {where}" in outcome.breaches[0].detail, outcome.breaches[0].detail


def _strip_links():
    """The world as a version without the verifiable ledger would have left it."""
    client, ledger = _ledger()
    for item in (from_attributes(i) for page in client.get_paginator("scan").paginate(TableName=ledger)
                 for i in page["Items"]):
        if item["SK"].startswith("TX#") or item["SK"] in ("CARD", "MEMBER"):
            _put({k: v for k, v in item.items() if k not in ("prev_hash", "hash", "ledger_head")})


def test_backfill_chains_entries_written_before_the_chain_with_the_hashes_the_write_path_gives(world, capsys):
    before = {key: item for key, item in _all_items().items() if key[2].startswith("TX#")}
    _strip_links()
    unchained = reconcile_now(views=False, history=False)
    [chained] = [o for o in unchained.outcomes if o.invariant == "ledger_chained"]
    owners = {b.subject for b in chained.breaches}
    assert {world.ids[k] for k in ("ada_card", "bob_card", "gift", "ada", "bob")} <= owners
    assert all("backfill-chain" in b.detail for b in chained.breaches)
    # a card written to before its backfill: its new entry stays unchained until the backfill
    bob_card = f"CARD#{world.ids['bob_card']}"
    world.api.reload(world.ids["bob_card"], 1_000)
    newest = _get(bob_card, f"TX#{_get(bob_card, 'CARD')['ledger_seq']:012d}")
    assert "prev_hash" not in newest and "hash" not in newest

    assert cli.main(["backfill-chain", "--ledger-table", get_settings().ledger_table]) == 0
    assert f"chained {len(owners)} chains" in capsys.readouterr().out

    after = _all_items()
    assert all(after[key] == item for key, item in before.items()), "the backfill gave other hashes"
    report = reconcile_now(views=False, history=False)
    assert report.ok, report.render()
    assert cli.main(["backfill-chain", "--ledger-table", get_settings().ledger_table]) == 0  # nothing left
    assert "chained 0 chains (0 entries linked)" in capsys.readouterr().out


def test_a_breach_that_heals_before_the_confirming_pass_is_not_reported(world, monkeypatch):
    """On a live stage a scan can catch a card between its writes, and views trail the stream."""
    ids = world.ids
    card = _get(f"CARD#{ids['ada_card']}", "CARD")
    _set(f"CARD#{ids['ada_card']}", "CARD", balance=card["balance"] + 5)
    monkeypatch.setattr("chalicelib.ops.reconcile.time.sleep", lambda seconds: _put(card))
    scope = Scope(ledger_table=get_settings().ledger_table, views_table=None, rules=get_settings().rules)

    report = reconcile(scope, confirm_passes=1)

    assert report.passes == 2, report.render()
    assert [o.breaches for o in report.outcomes if o.invariant == "card_balance_equals_ledger"] == [[]]


def test_a_breach_that_persists_is_reported_after_the_confirming_passes(world, monkeypatch):
    _balance_without_entry(world.ids)
    monkeypatch.setattr("chalicelib.ops.reconcile.time.sleep", lambda seconds: None)
    scope = Scope(ledger_table=get_settings().ledger_table, views_table=None, rules=get_settings().rules)

    report = reconcile(scope, confirm_passes=2)

    assert report.passes == 3 and not report.ok
    assert {o.invariant for o in report.outcomes if o.breaches} == {"card_balance_equals_ledger"}


def test_cli_prints_a_summary_per_invariant_and_exits_non_zero_on_a_breach(world, capsys):
    ids = world.ids
    assert cli.main(["reconcile", "--confirm", "0"]) == 0
    clean = capsys.readouterr().out
    assert "card_balance_equals_ledger" in clean and "all invariants hold" in clean

    _balance_without_entry(ids)
    assert cli.main(["reconcile", "--confirm", "0", "--no-views", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    breached = [i for i in report["invariants"] if i["breaches"]]
    assert [i["invariant"] for i in breached] == ["card_balance_equals_ledger"]
    assert breached[0]["breaches"][0]["subject"] == ids["ada_card"]


def test_cli_reads_the_tables_named_in_the_environment(world, monkeypatch, capsys):
    monkeypatch.setenv("OMNICARD_LEDGER_TABLE", "no-such-table")
    assert cli.main(["reconcile", "--confirm", "0"]) == 2
    assert "cannot read the tables" in capsys.readouterr().err
