"""Webhook delivery as deployed (issue 16): the bus's events reach the delivery function through an
EventBridge rule and an SQS queue with a dead-letter queue; retries last at least 24 hours; the
secrets' KMS key is the stack's own; the stream handler has nothing to do with subscribers."""
from __future__ import annotations

from tests.infra.sam_package import Package


def test_a_rule_sends_every_change_event_of_the_stacks_bus_to_the_delivery_queue(package: Package):
    rule = package.resources["WebhookEventsRule"]["Properties"]
    [target] = rule["Targets"]

    assert rule["EventBusName"] == {"Ref": "EventBus"} and rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {"source": ["omnicard"], "detail-type": [
        "transaction.created", "card.updated", "member.updated", "adjustment.pending"]}
    assert target["Arn"] == {"Fn::GetAtt": ["WebhookDeliveries", "Arn"]}
    # EventBridge keeps trying a queue it cannot reach for 24 h, then parks the event
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["WebhookDeadLetters", "Arn"]}}


def test_only_the_rule_may_send_to_the_queues_besides_the_function_and_only_over_tls(package: Package):
    for queue, policy in (("WebhookDeliveries", "WebhookDeliveriesPolicy"), ("WebhookDeadLetters", "WebhookDeadLettersPolicy")):
        statements = package.resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        allow = [s for s in statements if s["Effect"] == "Allow"]
        assert [s["Principal"] for s in allow] == [{"Service": "events.amazonaws.com"}], queue
        assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["WebhookEventsRule", "Arn"]}}}
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
        assert package.resources[queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_the_delivery_queue_outlasts_the_retry_window_and_parks_what_keeps_failing(package: Package):
    queue = package.resources["WebhookDeliveries"]["Properties"]
    dead = package.resources["WebhookDeadLetters"]
    function = package.functions["DeliverWebhooks"]["Properties"]
    [event] = function["Events"].values()

    assert queue["MessageRetentionPeriod"] >= 2 * 86400  # a retry message lives longer than the 24 h+ window
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeadLetters", "Arn"]},
                                      "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]  # AWS's advice for SQS-fed functions
    assert function["Timeout"] >= 2 * 10 + 10  # a batch's POSTs (10 s each, in parallel) fit with room
    assert dead["Properties"]["MessageRetentionPeriod"] == 1209600 and dead["DeletionPolicy"] == "Retain"
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["WebhookDeliveries", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["BatchSize"] <= 10


def test_the_dead_letter_queue_is_alarmed(package: Package):
    alarms = package.of_type("AWS::CloudWatch::Alarm").values()

    assert any(a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible" and a["Properties"]["Dimensions"] ==
               [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookDeadLetters", "QueueName"]}}] for a in alarms)


def test_secrets_are_sealed_with_the_stacks_own_rotating_key_and_the_functions_find_everything(package: Package):
    key = package.resources["WebhookSecretKey"]
    variables = package.template["Globals"]["Function"]["Environment"]["Variables"]

    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # losing it would lose every subscription's secret
    assert variables["OMNICARD_WEBHOOK_KEY"] == {"Fn::GetAtt": ["WebhookSecretKey", "Arn"]}
    assert variables["OMNICARD_WEBHOOKS_TABLE"] == {"Ref": "WebhooksTable"}
    assert variables["OMNICARD_WEBHOOK_QUEUE_URL"] == {"Ref": "WebhookDeliveries"}
    assert variables["OMNICARD_WEBHOOK_DEAD_LETTER_URL"] == {"Ref": "WebhookDeadLetters"}
    assert "OMNICARD_WEBHOOK_HTTP_LOOPBACK" not in variables  # deployed: public https endpoints only
    table = package.resources["WebhooksTable"]["Properties"]
    assert "StreamSpecification" not in table and table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_the_stream_handler_cannot_reach_subscribers_or_their_secrets(package: Package):
    statements = [s for p in package.resources["OnLedgerChangeRole"]["Properties"]["Policies"]
                  for s in p["PolicyDocument"]["Statement"]]
    resources = str([s["Resource"] for s in statements])

    assert "WebhookSecretKey" not in resources and "WebhooksTable" not in resources
    assert "WebhookDeliveries" not in resources  # it only publishes to the bus; the rule does the rest
