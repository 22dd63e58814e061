"""Webhook delivery: the SQS-fed function that POSTs each change event to its subscribers."""
