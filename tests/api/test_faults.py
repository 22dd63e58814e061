"""DynamoDB throttling that outlasts botocore's retries is a 503 problem, and changes nothing."""
from botocore.exceptions import ClientError

from chalicelib.store.client import dynamodb
from tests.conftest import tokens


def _throttle_every(operation):
    def refuse(**kwargs):
        if kwargs["model"].name == operation:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                              operation)
    return refuse


def test_throttled_write_is_503_with_retry_after_and_the_retry_applies_once(api):
    card = api.issue()
    handler = _throttle_every("TransactWriteItems")
    dynamodb().meta.events.register("before-call.dynamodb", handler)
    try:
        throttled = api.reload(card["card_id"], 1000, key="throttled-1")
    finally:
        dynamodb().meta.events.unregister("before-call.dynamodb", handler)
    assert (throttled.status_code, throttled.json["code"]) == (503, "service_unavailable")
    assert throttled.headers["Retry-After"] == "1"
    assert api.balance(card["card_id"]) == 0
    retried = api.reload(card["card_id"], 1000, key="throttled-1")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert api.balance(card["card_id"]) == 1000


def test_throttled_read_is_503_not_500(api):
    card = api.issue()
    handler = _throttle_every("BatchGetItem")  # the card read (with its member when known) is one BatchGetItem
    dynamodb().meta.events.register("before-call.dynamodb", handler)
    try:
        response = api.get(f"/v1/cards/{card['card_id']}", tokens.agent())
    finally:
        dynamodb().meta.events.unregister("before-call.dynamodb", handler)
    assert (response.status_code, response.json["code"]) == (503, "service_unavailable")
