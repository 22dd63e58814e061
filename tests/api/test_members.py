"""Members: enrolment, wallet, lookup by email, and who may do what."""
from tests.conftest import tokens


def test_service_enrols_a_member_with_zero_stars(api):
    response = api.post("/v1/members", tokens.service(), {"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 201
    member = response.json
    assert member["member_id"].startswith("mem_")
    assert member | {"member_id": None, "created_at": None} == {
        "member_id": None, "name": "Ada", "email": "ada@example.com", "tier": "green", "stars": 0,
        "stars_expiring": [], "created_at": None}


def test_agent_may_enrol_but_customer_and_pos_may_not(api):
    assert api.post("/v1/members", tokens.agent(), {"name": "B", "email": "b@example.com"}).status_code == 201
    assert api.post("/v1/members", tokens.customer("mem_x"), {"name": "C", "email": "c@example.com"}).status_code == 403
    assert api.post("/v1/members", tokens.pos(), {"name": "D", "email": "d@example.com"}).status_code == 403


def test_duplicate_email_is_already_exists_whatever_its_case(api):
    api.enrol(email="dup@example.com")
    response = api.post("/v1/members", tokens.service(), {"name": "Other", "email": "DUP@example.com"})
    assert response.status_code == 409
    assert response.json["code"] == "already_exists"
    assert response.headers["Content-Type"] == "application/problem+json"


def test_invalid_email_and_unknown_field_are_validation_errors(api):
    bad_email = api.post("/v1/members", tokens.service(), {"name": "A", "email": "not-an-email"})
    unknown = api.post("/v1/members", tokens.service(), {"name": "A", "email": "a@example.com", "vip": True})
    assert (bad_email.status_code, bad_email.json["code"]) == (422, "validation_error")
    assert (unknown.status_code, unknown.json["code"]) == (422, "validation_error")
    assert unknown.json["errors"][0]["loc"] == ["body", "vip"]


def test_owner_reads_own_member_with_wallet_and_not_anothers(api, drain):
    ada, bob = api.enrol(), api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 2500)
    drain()
    own = api.get(f"/v1/members/{ada['member_id']}", tokens.customer(ada["member_id"]))
    assert own.status_code == 200
    assert [c["card_id"] for c in own.json["cards"]] == [card["card_id"]]
    assert own.json["cards"][0]["balance"] == {"amount": 2500, "currency": "USD"}
    assert own.json["cards"][0]["card_number"].startswith("************")
    assert own.json["as_of"] is not None
    other = api.get(f"/v1/members/{bob['member_id']}", tokens.customer(ada["member_id"]))
    assert other.status_code == 404 and "name" not in other.json


def test_new_member_is_readable_before_the_stream_delivers(api):
    ada = api.enrol()
    response = api.get(f"/v1/members/{ada['member_id']}", tokens.agent())
    assert response.status_code == 200
    assert response.json["cards"] == [] and response.json["stars"] == 0


def test_pos_and_service_may_not_read_a_member(api):
    ada = api.enrol()
    assert api.get(f"/v1/members/{ada['member_id']}", tokens.pos()).status_code == 403
    assert api.get(f"/v1/members/{ada['member_id']}", tokens.service()).status_code == 403


def test_unknown_member_is_not_found(api):
    response = api.get("/v1/members/mem_nobody", tokens.agent())
    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_agent_finds_member_by_email_and_pos_may_not(api):
    ada = api.enrol(email="Ada.L@example.com")
    found = api.get("/v1/members?email=ada.l@example.com", tokens.agent())
    assert found.status_code == 200 and [m["member_id"] for m in found.json["items"]] == [ada["member_id"]]
    assert api.get("/v1/members?email=none@example.com", tokens.supervisor()).json["items"] == []
    assert api.get("/v1/members?email=ada.l@example.com", tokens.pos()).status_code == 403
