"""Omnicard: wiring only. Routes live in chalicelib/api, rules in chalicelib/domain."""
import os

from chalice import Chalice, Cron

from chalicelib import observability
from chalicelib.api import (activity, auto_reload, cards, edges, holds, members, meta, pages, pos, reports, staff,
                            stars, webhooks)
from chalicelib.settings import configured_rules, console_settings

configured_rules()  # a bad rules file stops start-up here, naming the field
console_settings()  # so does a half-configured console sign-in (README, Call-center console)

app = Chalice(app_name="omnicard", configure_logs=False)
for blueprint in (meta.bp, members.bp, cards.bp, holds.bp, stars.bp, auto_reload.bp, activity.bp, reports.bp, staff.bp,
                  webhooks.bp, pages.bp, pos.bp):
    app.register_blueprint(blueprint)
edges.register(app)  # every path: OPTIONS (CORS preflight) and a 405 for each method it does not serve

# Logs, metrics and traces around every invocation, outermost first (Powertools' handler
# decorators do not fit Chalice's handlers).
app.register_middleware(observability.observe_invocation, "all")
app.register_middleware(observability.observe_request, "http")
app.register_middleware(edges.cors, "http")
app.register_middleware(observability.observe_stream, "dynamodb")

# The real stream ARN is set by infra/template.json over the generated event source mapping.
LEDGER_STREAM_ARN = os.environ.get(
    "OMNICARD_LEDGER_STREAM_ARN",
    "arn:aws:dynamodb:us-east-1:000000000000:table/omnicard-ledger/stream/1970-01-01T00:00:00.000",
)


@app.on_dynamodb_record(stream_arn=LEDGER_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON",
                        name="on_ledger_change")
def on_ledger_change(event):
    # Imported here: each handler is its own Lambda function, and the API's never runs this one
    # (the stream's batch processing is ~a tenth of the API function's cold start otherwise).
    from chalicelib.streams import ledger

    return ledger.handle(event.to_dict(), event.context)


# Webhook deliveries: an EventBridge rule on the bus feeds this queue (infra/template.json sets the
# real queue ARN over this placeholder, ReportBatchItemFailures and the dead-letter queue). The stream handler never calls a
# subscriber, so a dead endpoint costs the ledger stream nothing. Locally the server's webhook pump
# reads the queue and calls this same handler (local/webhooks.py).
WEBHOOK_QUEUE_ARN = os.environ.get("OMNICARD_WEBHOOK_QUEUE_ARN",
                                   "arn:aws:sqs:us-east-1:000000000000:omnicard-webhook-deliveries")


@app.on_sqs_message(queue_arn=WEBHOOK_QUEUE_ARN, batch_size=10, name="deliver_webhooks")
def deliver_webhooks(event):
    from chalicelib.webhooks import delivery

    return delivery.handle(event.to_dict(), event.context)


# Daily, just after midnight UTC. Shown balances already exclude expired stars; this writes them off.
@app.schedule(Cron(5, 0, "*", "*", "?", "*"), name="expire_stars")
def expire_stars(event):
    from chalicelib.services import stars as star_service

    return star_service.expire_due_stars().model_dump()
