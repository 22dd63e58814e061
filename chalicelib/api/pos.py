"""Till routes: offline batches."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import REQUIRED, Call, endpoint
from chalicelib.domain.batches import BatchResult
from chalicelib.services import batches

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/pos/batches",
          summary="Send the sales an offline till took: each applied once per item_key, oldest first",
          body=schemas.OfflineBatch, response=BatchResult, idempotency_key=REQUIRED, errors=(403, 409, 422))
def send_offline_batch(call: Call) -> BatchResult:
    return batches.apply_batch(call.principal, call.body.items, call.gate)
