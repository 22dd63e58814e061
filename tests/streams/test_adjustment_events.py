"""A large adjustment filed for approval is announced once on the bus as `adjustment.pending`."""
from tests.conftest import money, tokens


def test_pending_adjustment_is_published_once_with_a_stable_event_id(api, drain, bus, client, deliveries):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    pending = api.post(f"/v1/cards/{card['card_id']}/adjustments", tokens.agent(),
                       {"amount": money(7500), "reason_code": "service_recovery"}).json
    records = deliveries()
    announced = [e for e in bus.received() if e["detail-type"] == "adjustment.pending"]
    assert [(e["source"], e["detail"]["adjustment_id"], e["detail"]["agent_id"], e["detail"]["amount"]) for e in announced] == [
        ("omnicard", pending["adjustment_id"], "A1", money(7500))]
    client.lambda_.invoke("on_ledger_change", {"Records": records})
    again = [e for e in bus.received() if e["detail-type"] == "adjustment.pending"]
    assert {e["detail"]["event_id"] for e in again} == {announced[0]["detail"]["event_id"]}
    api.post(f"/v1/adjustments/{pending['adjustment_id']}/approve", tokens.supervisor("S-2"))
    drain()
    assert len([e for e in bus.received() if e["detail-type"] == "adjustment.pending"]) == len(again)
