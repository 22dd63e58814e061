"""Members: enrolment, wallet, lookup by email, and who may do what."""
import pytest
from urllib.parse import quote

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


@pytest.mark.parametrize("taken, variant", [
    ("kate@example.com", "\u212aate@example.com"),                    # KELVIN SIGN lowercases to k
    ("ada@example.com", "\uff41\uff44\uff41@example.com"),           # fullwidth ａｄａ
    ("ada@example.com", "ADA@EXAMPLE.COM"),
    ("strasse@example.com", "STRA\u00dfE@example.com"),              # ß case-folds to ss
    ("office@example.com", "o\ufb03ce@example.com"),                # the ﬃ ligature
])
def test_an_email_taken_in_one_spelling_is_taken_in_every_equivalent_one(api, taken, variant):
    """Issue 11, finding 6: uniqueness after NFKC normalisation and case folding."""
    first = api.enrol(email=taken)
    response = api.post("/v1/members", tokens.service(), {"name": "Copy", "email": variant})
    assert (response.status_code, response.json["code"]) == (409, "already_exists")
    found = api.get(f"/v1/members?email={quote(variant)}", tokens.agent()).json["items"]
    assert [m["member_id"] for m in found] == [first["member_id"]]


@pytest.mark.parametrize("email", [
    "ada\u200b@example.com", "a\u200dda@example.com", "\ufeffada@example.com", "ada\u2060@example.com",
    "ada\u00ad@example.com", "ada\u0007@example.com", "ada@exam\u0000ple.com", "ada\u202e@example.com",
])
def test_zero_width_and_control_characters_in_an_email_are_refused(api, email):
    api.enrol(email="ada@example.com")
    response = api.post("/v1/members", tokens.service(), {"name": "Copy", "email": email})
    assert (response.status_code, response.json["code"]) == (422, "validation_error")
    assert response.json["errors"][0]["loc"] == ["body", "email"]
