"""Call-center operations: adjustments with maker-checker approval, the audit trail, lost cards."""
import threading
from datetime import timedelta

import pytest

from tests.conftest import money, tokens

AGENT, OTHER_SUPERVISOR = tokens.agent("A1"), tokens.supervisor("S-2")


def _adjust(api, card_id, amount, token=AGENT, reason="goodwill", **kwargs):
    return api.post(f"/v1/cards/{card_id}/adjustments", token, {"amount": money(amount), "reason_code": reason, **kwargs})


def _audit(api, member_id):
    return api.get(f"/v1/members/{member_id}/audit?limit=100", tokens.supervisor("S-9")).json["items"]


@pytest.fixture
def member_card(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 2000)
    return ada["member_id"], card["card_id"]


def test_small_adjustment_applies_at_once_with_its_reason_and_agent(api, member_card):
    member_id, card_id = member_card
    response = _adjust(api, card_id, 500, note="coffee was cold", ticket_ref="T-77")
    assert response.status_code == 201
    tx = response.json
    assert (tx["kind"], tx["amount"], tx["balance_after"], tx["reason_code"], tx["agent_id"], tx["channel"]) == (
        "adjustment", money(500), money(2500), "goodwill", "A1", "phone")
    assert _adjust(api, card_id, -5000 - 1 + 5000).status_code == 201  # -1: a small correction
    assert api.balance(card_id) == 2499


@pytest.mark.parametrize("body", [
    {"amount": money(500)}, {"amount": money(500), "reason_code": "because"}, {"amount": money(0), "reason_code": "other"},
    {"amount": {"amount": 1.5, "currency": "USD"}, "reason_code": "other"},
])
def test_adjustment_without_a_valid_reason_or_amount_is_a_validation_error(api, member_card, body):
    _, card_id = member_card
    response = api.post(f"/v1/cards/{card_id}/adjustments", AGENT, body)
    assert (response.status_code, response.json["code"]) == (422, "validation_error")


def test_only_staff_adjust(api, member_card):
    member_id, card_id = member_card
    for token in (tokens.customer(member_id), tokens.pos(), tokens.service()):
        assert _adjust(api, card_id, 100, token).status_code == 403


def test_negative_adjustment_never_takes_the_balance_below_zero(api, member_card):
    _, card_id = member_card
    response = _adjust(api, card_id, -2001, reason="correction")
    assert (response.status_code, response.json["code"]) == (409, "insufficient_funds")
    assert _adjust(api, card_id, -2000, reason="correction").status_code == 201
    assert api.balance(card_id) == 0


def test_large_adjustment_waits_for_another_supervisor_and_applies_exactly_once(api, member_card):
    member_id, card_id = member_card
    pending = _adjust(api, card_id, 5001, reason="service_recovery", note="double charge")
    assert pending.status_code == 202
    adjustment = pending.json
    assert (adjustment["status"], adjustment["agent_id"], adjustment["amount"]) == ("pending_approval", "A1", money(5001))
    assert api.balance(card_id) == 2000
    listed = api.get("/v1/adjustments?status=pending_approval", tokens.supervisor("S-2")).json["items"]
    assert [(a["adjustment_id"], a["agent_id"], a["reason_code"]) for a in listed] == [
        (adjustment["adjustment_id"], "A1", "service_recovery")]
    assert api.get("/v1/adjustments", AGENT).status_code == 403
    path = f"/v1/adjustments/{adjustment['adjustment_id']}/approve"
    assert api.post(path, tokens.supervisor("A1")).status_code == 403  # the requester, now as supervisor
    assert api.post(path, AGENT).status_code == 403
    assert api.post(path, OTHER_SUPERVISOR, key=None).json["code"] == "idempotency_key_required"
    approved = api.post(path, OTHER_SUPERVISOR)
    assert approved.status_code == 200
    assert (approved.json["kind"], approved.json["amount"], approved.json["agent_id"]) == ("adjustment", money(5001), "A1")
    again = api.post(path, tokens.supervisor("S-3"))
    assert (again.status_code, again.json["code"]) == (409, "already_decided")
    assert api.balance(card_id) == 7001
    assert api.get("/v1/adjustments", tokens.supervisor("S-2")).json["items"] == []


def test_rejected_adjustment_is_closed_and_never_applied(api, member_card):
    _, card_id = member_card
    adjustment = _adjust(api, card_id, -9000, reason="fraud").json
    rejected = api.post(f"/v1/adjustments/{adjustment['adjustment_id']}/reject", OTHER_SUPERVISOR, key=None)
    assert rejected.status_code == 200 and (rejected.json["status"], rejected.json["decided_by"]) == ("rejected", "S-2")
    late = api.post(f"/v1/adjustments/{adjustment['adjustment_id']}/approve", tokens.supervisor("S-3"))
    assert (late.status_code, late.json["code"]) == (409, "already_decided")
    assert api.balance(card_id) == 2000
    assert api.post("/v1/adjustments/adj_nope/approve", OTHER_SUPERVISOR).status_code == 404


def test_concurrent_approvals_apply_once(api, member_card):
    _, card_id = member_card
    adjustment = _adjust(api, card_id, 6000).json
    results = [None] * 8
    barrier = threading.Barrier(8)

    def approve(index):
        barrier.wait()
        results[index] = api.post(f"/v1/adjustments/{adjustment['adjustment_id']}/approve", tokens.supervisor(f"S-{index + 10}"))

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200] + [409] * 7
    assert api.balance(card_id) == 8000
    assert [t["kind"] for t in api.ledger(card_id)].count("adjustment") == 1


def test_star_adjustments_apply_small_wait_large_and_never_go_below_zero(api, member_card):
    member_id, _ = member_card
    path = f"/v1/members/{member_id}/adjustments"
    given = api.post(path, AGENT, {"stars": 100, "reason_code": "goodwill"})
    assert given.status_code == 201 and (given.json["kind"], given.json["stars"], given.json["stars_after"]) == ("adjustment", 100, 100)
    taken = api.post(path, AGENT, {"stars": -101, "reason_code": "correction"})
    assert (taken.status_code, taken.json["code"]) == (409, "insufficient_stars")
    pending = api.post(path, AGENT, {"stars": 501, "reason_code": "service_recovery"})
    assert pending.status_code == 202 and pending.json["stars"] == 501
    approved = api.post(f"/v1/adjustments/{pending.json['adjustment_id']}/approve", OTHER_SUPERVISOR)
    assert approved.status_code == 200 and approved.json["stars_after"] == 601
    member = api.get(f"/v1/members/{member_id}", AGENT).json
    assert (member["stars"], member["tier"]) == (601, "green")  # goodwill stars do not make gold


def test_one_agents_small_adjustments_on_one_card_need_approval_once_they_pass_50_in_a_utc_day(api, member_card, clock):
    """Issue 11, finding 3: ten 50.00 adjustments must not slip past maker-checker one by one."""
    member_id, card_id = member_card
    statuses = [_adjust(api, card_id, amount).status_code for amount in (2000, -1000, 2000)]  # |Σ| = 50.00
    assert statuses == [201, 201, 201]
    over = _adjust(api, card_id, 1)
    assert over.status_code == 202 and over.json["status"] == "pending_approval"
    assert api.balance(card_id) == 2000 + 3000
    assert _adjust(api, card_id, 1, token=tokens.agent("A2")).status_code == 201  # another agent
    other_card = api.issue(member_id)["card_id"]
    assert _adjust(api, other_card, 5000).status_code == 201  # another card
    clock.advance(timedelta(hours=12))  # 2026-01-16 00:00 UTC: a new day
    assert _adjust(api, card_id, 4000).status_code == 201
    approved = api.post(f"/v1/adjustments/{over.json['adjustment_id']}/approve", OTHER_SUPERVISOR)
    large = _adjust(api, card_id, 6000)
    assert large.status_code == 202
    assert api.post(f"/v1/adjustments/{large.json['adjustment_id']}/approve", OTHER_SUPERVISOR).status_code == 200
    assert approved.status_code == 200
    assert _adjust(api, card_id, 1000).status_code == 201  # approved adjustments do not count: 40.00 + 10.00
    assert _adjust(api, card_id, -1).status_code == 202


def test_one_agents_small_star_adjustments_need_approval_once_they_pass_500_in_a_utc_day(api, member_card, clock):
    member_id, _ = member_card
    path = f"/v1/members/{member_id}/adjustments"
    assert [api.post(path, AGENT, {"stars": stars, "reason_code": "goodwill"}).status_code
            for stars in (300, -100, 100)] == [201, 201, 201]
    over = api.post(path, AGENT, {"stars": 1, "reason_code": "goodwill"})
    assert over.status_code == 202
    assert api.post(path, tokens.supervisor("S-3"), {"stars": 500, "reason_code": "goodwill"}).status_code == 201
    assert api.get(f"/v1/members/{member_id}", AGENT).json["stars"] == 800


def test_a_refused_adjustment_does_not_count_toward_the_daily_sum(api, member_card, clock):
    member_id, card_id = member_card
    assert _adjust(api, card_id, -4000, reason="correction").json["code"] == "insufficient_funds"
    assert _adjust(api, card_id, 5000).status_code == 201


def test_every_staff_write_leaves_exactly_one_audit_record(api, member_card):
    member_id, card_id = member_card
    new_card = api.issue(member_id)
    payment = api.pay(card_id, 300, tokens.pos("S1")).json
    before = _audit(api, member_id)
    writes = [
        ("card.reloaded", lambda: api.reload(card_id, 1000, AGENT)),
        ("card.frozen", lambda: api.post(f"/v1/cards/{card_id}/freeze", AGENT, key=None)),
        ("card.transferred", lambda: api.post(f"/v1/cards/{card_id}/transfers", AGENT, {"to_card_id": new_card["card_id"]})),
        ("card.unfrozen", lambda: api.post(f"/v1/cards/{card_id}/unfreeze", AGENT, key=None)),
        ("payment.refunded", lambda: api.post(f"/v1/transactions/{payment['tx_id']}/refunds", AGENT, {})),
        ("adjustment.applied", lambda: _adjust(api, new_card["card_id"], 100)),
        ("adjustment.requested", lambda: _adjust(api, new_card["card_id"], 9000)),
    ]
    for action, write in writes:
        response = write()
        assert response.status_code in (200, 201, 202), (action, response.json)
        records = [r for r in _audit(api, member_id) if r not in before and not r["action"].endswith(("viewed", "looked_up"))]
        assert [r["action"] for r in records] == [action], action
        record = records[0]
        assert (record["actor"], record["role"], record["agent_id"]) == ("agent:A1", "agent", "A1")
        assert record["at"] and record["after"] is not None
        before = _audit(api, member_id)
    requested = next(r for r in before if r["action"] == "adjustment.requested")
    approve = api.post(f"/v1/adjustments/{requested['adjustment_id']}/approve", OTHER_SUPERVISOR)
    assert approve.status_code == 200
    latest = _audit(api, member_id)[0]
    assert (latest["action"], latest["role"], latest["agent_id"], latest["before"]["balance"] + 9000) == (
        "adjustment.approved", "supervisor", "S-2", latest["after"]["balance"])


def test_replays_and_refusals_leave_no_extra_audit_record(api, member_card):
    member_id, card_id = member_card
    api.reload(card_id, 1000, AGENT, key="r-1")
    count = len(_audit(api, member_id))
    api.reload(card_id, 1000, AGENT, key="r-1")
    assert _adjust(api, card_id, -4000, reason="correction").json["code"] == "insufficient_funds"
    writes = [r for r in _audit(api, member_id) if not r["action"].endswith(("viewed", "looked_up"))]
    assert len(_audit(api, member_id)) == count
    assert [r["action"] for r in writes].count("card.reloaded") == 2  # the fixture's reload and r-1, once


def test_staff_lookups_of_a_members_data_are_audited_and_only_supervisors_read_the_trail(api, member_card):
    member_id, card_id = member_card
    member = api.get(f"/v1/members/{member_id}", AGENT).json
    api.get(f"/v1/members?email={member['email']}", AGENT)
    api.get(f"/v1/cards/{card_id}", AGENT)
    api.get(f"/v1/cards/{card_id}/transactions", AGENT)
    actions = [r["action"] for r in _audit(api, member_id)]
    for action in ("member.viewed", "member.looked_up", "card.viewed", "card.transactions_viewed"):
        assert action in actions
    api.get(f"/v1/cards/{card_id}", tokens.customer(member_id))
    assert [r["action"] for r in _audit(api, member_id)].count("card.viewed") == 1
    assert api.get(f"/v1/members/{member_id}/audit", AGENT).status_code == 403
    assert api.get(f"/v1/members/{member_id}/audit", tokens.customer(member_id)).status_code == 403


def test_lost_card_transfer_moves_balance_and_auto_reload_and_keeps_history(api, member_card):
    member_id, lost = member_card
    fresh = api.issue(member_id)["card_id"]
    setting = {"threshold": money(1000), "amount": money(2500), "payment_ref": "psp-9"}
    assert api.request("PUT", f"/v1/cards/{lost}/auto-reload", tokens.customer(member_id), setting).status_code == 200
    api.post(f"/v1/cards/{lost}/freeze", tokens.customer(member_id), key=None)
    response = api.post(f"/v1/cards/{lost}/transfers", AGENT, {"to_card_id": fresh, "move_auto_reload": True})
    assert response.status_code == 201
    old, new = (api.get(f"/v1/cards/{c}", AGENT).json for c in (lost, fresh))
    assert (old["balance"]["amount"], old["auto_reload"], old["status"]) == (0, None, "frozen")
    assert (new["balance"]["amount"], new["auto_reload"]) == (2000, {"threshold": money(1000), "amount": money(2500)})
    assert [t["kind"] for t in api.ledger(lost)] == ["transfer_out", "reload"]


def test_auto_reload_changes_by_staff_are_audited(api, member_card):
    member_id, card_id = member_card
    setting = {"threshold": money(1000), "amount": money(2500), "payment_ref": "psp-9"}
    assert api.request("PUT", f"/v1/cards/{card_id}/auto-reload", AGENT, setting).status_code == 200
    assert api.request("DELETE", f"/v1/cards/{card_id}/auto-reload", AGENT).status_code == 200
    actions = [r["action"] for r in _audit(api, member_id)]
    assert actions[:2] == ["card.auto_reload_cancelled", "card.auto_reload_set"]
