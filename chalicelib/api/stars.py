"""Stars routes: rewards, purchases, redemptions, refunds."""
from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import REQUIRED, Call, endpoint
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.ledger import Transaction
from chalicelib.domain.stars import Reward
from chalicelib.services import stars
from chalicelib.services.stars import RewardList

bp = Blueprint(__name__)
REWARD_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@endpoint(bp, "GET", "/v1/rewards", summary="The reward catalogue", response=RewardList)
def list_rewards(call: Call) -> RewardList:
    return stars.rewards()


@endpoint(bp, "PUT", "/v1/rewards/{reward_id}", summary="Add or change a reward (service role)",
          body=schemas.RewardChange, response=Reward, errors=(403, 422))
def save_reward(call: Call, reward_id: str) -> Reward:
    if not REWARD_ID.fullmatch(reward_id):
        raise ValidationFailed("reward_id is 1..64 letters, digits, _ or -",
                               errors=[{"loc": ["path", "reward_id"], "msg": "invalid reward id", "type": "string_pattern_mismatch"}])
    return stars.save_reward(call.principal, Reward(reward_id=reward_id, name=call.body.name, stars=call.body.stars))


@endpoint(bp, "DELETE", "/v1/rewards/{reward_id}", summary="Retire a reward (service role)", response=RewardList,
          errors=(403, 404))
def retire_reward(call: Call, reward_id: str) -> RewardList:
    return stars.retire_reward(call.principal, reward_id)


@endpoint(bp, "POST", "/v1/members/{member_id}/purchases", summary="Stars for a purchase paid another way",
          status=201, body=schemas.Purchase, response=Transaction, idempotency_key=REQUIRED, errors=(403, 404, 409, 422))
def record_purchase(call: Call, member_id: str) -> Transaction:
    body = call.body
    return stars.record_purchase(call.principal, member_id, body.amount, body.tender, body.store_id, call.gate)


@endpoint(bp, "POST", "/v1/members/{member_id}/redemptions", summary="Redeem a reward with stars", status=201,
          body=schemas.Redemption, response=Transaction, idempotency_key=REQUIRED,
          errors=(403, 404, 409, 422))
def redeem_reward(call: Call, member_id: str) -> Transaction:
    return stars.redeem(call.principal, member_id, call.body.reward_id, call.gate)


@endpoint(bp, "POST", "/v1/transactions/{tx_id}/refunds", summary="Refund a payment, whole or in part", status=201,
          body=schemas.Refund, response=Transaction, idempotency_key=REQUIRED,
          errors=(403, 404, 409, 422))
def refund_payment(call: Call, tx_id: str) -> Transaction:
    return stars.refund(call.principal, tx_id, call.body.amount, call.gate)
