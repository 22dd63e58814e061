"""`make docs`: regenerate the generated parts of docs/api.md.

docs/api.md is written by hand except between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers, which this module rewrites from the code:

- `endpoints`: every operation of the OpenAPI document the app serves at GET /v1/openapi.json (path,
  summary, parameters, body fields with their constraints, responses), plus who may call it and what a
  client must know beyond the shape (WHO and NOTES below: authorization and rules live in the
  services, so the document cannot say);
- `schemas`: the document's response and resource models;
- `errors`: every problem+json `code` the app's domain errors carry, with its status;
- `rules`: the shipped business rules (chalicelib/rules.json), the defaults a deployment may override.

`python -m local.apidocs --check` exits 1 when docs/api.md differs from what it would write (a test does
the same). `--url URL` renders from a running stack's served document instead of the code's.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_MD = ROOT / "docs" / "api.md"
_METHODS = ("get", "post", "put", "delete", "patch")

# Who may call each operation (by operationId): the contract's roles, with "owner" = a customer token of
# the member concerned. A new route gets a line here; a test fails while one is missing.
WHO: dict[str, str] = {
    "health": "anyone, no token",
    "openapi_document": "anyone, no token",
    "enrol_member": "service, agent",
    "find_members": "agent, supervisor",
    "get_member": "owner, agent",
    "member_activity": "owner, agent",
    "member_audit": "supervisor",
    "issue_card": "owner (for itself), agent, pos (an unregistered gift card)",
    "find_cards": "pos, agent",
    "get_card": "owner, agent, pos",
    "register_card": "owner, agent",
    "reload_card": "owner, agent, pos",
    "pay_with_card": "owner (order ahead), pos",
    "send_offline_batch": "pos",
    "freeze_card": "owner, agent",
    "unfreeze_card": "owner, agent",
    "transfer_balance": "owner (both cards its own), agent",
    "card_transactions": "owner, agent, pos",
    "place_hold": "owner (order ahead), pos",
    "get_hold": "owner, pos of the hold's store, agent",
    "capture_hold": "owner, pos of the hold's store",
    "void_hold": "owner, pos of the hold's store, agent",
    "set_auto_reload": "owner, agent",
    "remove_auto_reload": "owner, agent",
    "list_rewards": "any principal",
    "save_reward": "service",
    "retire_reward": "service",
    "record_purchase": "pos",
    "redeem_reward": "owner, pos",
    "refund_payment": "pos of the payment's store, agent, supervisor",
    "adjust_card": "agent, supervisor",
    "adjust_stars": "agent, supervisor",
    "approve_adjustment": "supervisor other than the requester",
    "reject_adjustment": "supervisor other than the requester",
    "pending_adjustments": "supervisor",
    "channel_report": "supervisor, service",
    "liability_report": "supervisor, service",
    "subscribe_webhook": "service",
    "list_webhooks": "service",
    "delete_webhook": "service",
}
MISSING_WHO = "**not documented: add it to WHO in local/apidocs.py**"

# What a client must know about an operation beyond its shape (rendered under its summary).
NOTES: dict[str, str] = {
    "place_hold": "Keeps `amount` back from the card's `available` until captured, voided or `expires_at` (no money moves, "
                  "no Transaction). 409 `insufficient_funds` when `available` < amount, `card_not_active` unless active; "
                  "a card carries at most `open_holds_per_card` (20) open holds (422 `limit_exceeded`).",
    "capture_hold": "A `payment` with `hold_id`, stars on the captured amount, the rest of the hold released in the same "
                    "step. 409 `hold_not_active` for a captured, voided or expired hold, `card_not_active` on a frozen "
                    "card; 422 `limit_exceeded` above the hold.",
    "void_hold": "Voiding a voided hold is a 200 that changes nothing; a captured or expired one is 409 `hold_not_active`. "
                 "Works on a frozen card.",
    "enrol_member": "An email is unique after NFKC normalisation and case folding: a second member with it is 409 "
                    "`already_exists`; invisible or control characters are 422.",
    "find_members": "Strongly consistent (through the email's guard item): `{\"items\": [Member]}`, empty when none.",
    "get_member": "The wallet: the member, its tier, stars and soonest-expiring stars, and its cards, from the "
                  "stream-maintained view, with `as_of`.",
    "member_activity": "Every card's and the member's own transactions from every channel, newest first, from the "
                       "stream view; `as_of` is the same on every page of one listing.",
    "member_audit": "Staff actions on the member and its cards (who, role, when, action, before, after), newest first. "
                    "Staff reads are recorded too.",
    "issue_card": "The only response that shows the full `card_number`; its idempotent replay shows it again. "
                  "Without `member_id` the card is an unregistered gift card (no stars until registered).",
    "find_cards": "The card presented at a till or read out on the phone, strongly consistent: `{\"items\": [Card]}`.",
    "get_card": "The balance is strongly consistent: a till sees a reload made in the app a moment ago.",
    "register_card": "The full card number is the proof of possession (an id alone never suffices); an unknown "
                     "number is 404. Registering again to the same member is a 200 that changes nothing; to another "
                     "member 409 `already_exists`. The card's earlier transactions join the member's activity. "
                     "(Replaces v1's `POST /v1/cards/{card_id}/register`.)",
    "reload_card": "5.00 to 500.00 a reload, and the balance never above 1,000.00 (422 `limit_exceeded`); X",
    "send_offline_batch": "1..100 sales, applied as payments at the token's store oldest `occurred_at` first (ties as "
                          "sent), each atomically on its own: `applied`, `partial` (the card paid what it had; the "
                          "rest `uncollected`), `declined` (occurred_at more than 7 days old or 5 minutes ahead, "
                          "unknown card, card not active, other currency, nothing available) or `duplicate` (this "
                          "till sent the `item_key` before: the first result, nothing applied). An `item_key` twice "
                          "in one batch is 422 and applies nothing. See README, \"Offline till batches\".",
    "pay_with_card": "A till's `store_id`, if sent, must be its token's (403 otherwise); an owner's order-ahead payment "
                     "names the pickup store. Stars are earned in the same atomic step when the card is registered. "
                     "409 `insufficient_funds` or `card_not_active`, and nothing changes.",
    "freeze_card": "A lost or stolen card: payments and reloads stop on every channel at once. Freezing a frozen "
                   "card is a 200 that changes nothing.",
    "unfreeze_card": "Unfreezing an active card is a 200 that changes nothing.",
    "transfer_balance": "Default `amount`: the whole balance. Works from a frozen card. Moving nothing (an empty "
                        "card, or amount 0) is 409 `insufficient_funds`. Answers `{\"out\": Transaction, \"in\": "
                        "Transaction}`.",
    "card_transactions": "Every channel's transactions on the card, newest first, strongly consistent.",
    "set_auto_reload": "When a debit leaves the active card below `threshold`, one `auto_reload` of `amount` (channel "
                       "`system`) follows. `amount` within the reload bounds, `threshold + amount` ≤ the balance cap. "
                       "The payment reference is never shown back.",
    "remove_auto_reload": "Switches auto-reload off; answers the card.",
    "list_rewards": "The catalogue: the rules file's defaults as changed by the service role.",
    "save_reward": "Not in the public contract: the catalogue's management, added.",
    "retire_reward": "Not in the public contract: the catalogue's management, added. Answers the remaining catalogue.",
    "record_purchase": "Stars at the purchase rate for a purchase paid some other way at the till; at most "
                       "1,000.00 (422 `limit_exceeded`). Moves no money (`card_id` and `balance_after` are null). "
                       "(v1 also let the owner record purchases; v1.1 does not.)",
    "redeem_reward": "Spends the oldest stars first; 409 `insufficient_stars` when they do not cover the reward.",
    "refund_payment": "The `tx_id` exactly as issued (opaque; anything else is 404). Only payments are refunded; without `amount`, what is left of the payment. Refunds never add up "
                      "to more than the payment (409 `already_refunded`) nor take the balance above the cap (422 "
                      "`limit_exceeded`). Stars come back in proportion, never more than the member holds "
                      "(`stars_shortfall` records the rest).",
    "adjust_card": "A signed `amount` with a `reason_code`. Up to the approval threshold (50.00, absolute) it applies "
                   "at once: 201 Transaction. Above it — or when it would take the sum of this agent's applied "
                   "adjustments on this card that UTC day past 50.00 — 202 Adjustment `pending_approval`, for a "
                   "supervisor with another `agent_id`. Never takes a balance below zero (409 `insufficient_funds`).",
    "adjust_stars": "As the card adjustment, in stars (threshold 500, absolute, and 500 a day per agent and member); "
                    "409 `insufficient_stars` below zero.",
    "approve_adjustment": "Applies the pending adjustment once, in one transaction with its decision; a second "
                          "decision is 409 `already_decided`. The requester cannot approve its own (403).",
    "reject_adjustment": "Answers the rejected adjustment; a second decision is 409 `already_decided`.",
    "pending_adjustments": "Strongly consistent, newest first.",
    "channel_report": "One UTC day (default today): per channel, and per store for what names a store, the count, "
                      "signed totals per currency and signed stars of each transaction kind, with `as_of` (stream view).",
    "liability_report": "Outstanding stored value per currency and outstanding stars, as of the last change the "
                        "stream processed.",
    "subscribe_webhook": "Every change event (all types when `event_types` is absent, also types added later; then "
                         "`event_types` is null) is POSTed as `{type, timestamp, data}` with Standard Webhooks "
                         "headers signed with `secret`, which only this 201 (and its replay) shows. `url`: https to "
                         "a public host; plain http only to localhost / 127.0.0.1 on the local stage; credentials, "
                         "fragments, internal names and private addresses are 422. Retried with backoff (README, Webhooks).",
    "list_webhooks": "Strongly consistent; never shows a secret.",
    "delete_webhook": "204 with no body; events already queued for it are not sent. An unknown id is 404.",
}

# What each rule means, beside its field's own description (if any).
RULE_NOTES = {
    "money.reload_min": "smallest reload, minor units",
    "money.reload_max": "largest reload, minor units",
    "money.balance_cap": "highest balance a card may hold (reloads, refunds, transfers in), minor units",
    "money.currencies": "currencies a card may hold",
    "money.default_currency": "a new card's currency when the request names none",
    "stars.tier_window_months": "calendar months of earnings (this one and the ones before) that count toward gold",
    "stars.timezone": "the programme's zone: where months and days start",
    "stars.expiry_shards": "shards of the star-expiry index (internal)",
    "limits.reloads_per_card_per_hour": "reloads a card takes per hour (422 `limit_exceeded` beyond)",
    "approvals.stars_threshold": "stars; above this (absolute) a star adjustment waits for approval",
    "limits.reload_amount_per_card_per_day": "total reloaded onto a card in a day (422 `limit_exceeded` beyond)",
    "limits.requests_per_principal_per_minute": "requests per token subject per minute (429 `rate_limited` beyond)",
    "approvals.money_threshold": "above this (absolute) a card adjustment waits for approval",
}
MISSING_WHO = "**not documented: add it to WHO in local/apidocs.py**"


# -- the document -----------------------------------------------------------------------------

def served_document(url: str | None = None) -> dict[str, Any]:
    """The OpenAPI document: the one GET /v1/openapi.json serves (built from the code), or a stack's."""
    if url:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url.rstrip("/") + "/v1/openapi.json", timeout=30) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document
    import app  # noqa: F401  (registers every blueprint's routes)
    from chalicelib.api import openapi

    return openapi.document()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation), by path then method: the reference's order."""
    found = [(method.upper(), path, operation) for path, item in document["paths"].items()
             for method, operation in item.items() if method in _METHODS]
    return sorted(found, key=lambda op: (op[1], _METHODS.index(op[0].lower())))


# -- rendering helpers ------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _link(name: str) -> str:
    return f"[{name}](#schema-{name.lower()})"


def type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short phrase: `string, 1..128 chars`, `integer ≥ 1, ≤ 100`, `[Money] | null`."""
    if "$ref" in schema:
        return _link(_schema_name(schema["$ref"]))
    if "anyOf" in schema:
        return " | ".join(type_of(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f'`"{value}"`' for value in schema["enum"])
    if "const" in schema:
        return f'`{json.dumps(schema["const"])}`'
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "null":
        return "null"
    if kind == "string":
        parts = ["string"]
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and high is not None:
            parts.append(f"{low}..{high} chars")
        elif low is not None or high is not None:
            parts.append(f"≥ {low} chars" if low is not None else f"≤ {high} chars")
        if "pattern" in schema:
            parts.append(f"`{schema['pattern']}`")
        if "format" in schema:
            parts.append(schema["format"])
        return ", ".join(parts)
    if kind in ("integer", "number"):
        bounds = [f"≥ {schema['minimum']}" if "minimum" in schema else "",
                  f"> {schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema else "",
                  f"≤ {schema['maximum']}" if "maximum" in schema else "",
                  f"< {schema['exclusiveMaximum']}" if "exclusiveMaximum" in schema else ""]
        return " ".join([kind, ", ".join(bound for bound in bounds if bound)]).strip()
    return str(kind)


def _notes(schema: dict[str, Any]) -> str:
    notes = []
    if schema.get("description"):
        notes.append(schema["description"])
    if "default" in schema and schema["default"] is not None:
        notes.append(f"default `{json.dumps(schema['default'])}`")
    return "; ".join(notes)


def fields_table(schema: dict[str, Any], heading: str, *, required_column: bool = True) -> list[str]:
    """A model's fields as a table; a response's fields are all always present, so it has no
    `required` column."""
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    if not required_column:
        rows = [f"| {heading} | type | notes |", "|---|---|---|"]
        return rows + [f"| `{name}` | {_cell(type_of(field))} | {_cell(_notes(field))} |"
                       for name, field in properties.items()]
    rows = [f"| {heading} | type | required | notes |", "|---|---|---|---|"]
    for name, field in properties.items():
        rows.append(f"| `{name}` | {_cell(type_of(field))} | {'yes' if name in required else 'no'} | "
                    f"{_cell(_notes(field))} |")
    return rows


def _success(operation: dict[str, Any]) -> str:
    shown = []
    for status, response in operation["responses"].items():
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        shown.append(f"`{status}` " + (_link(_schema_name(schema["$ref"])) if schema and "$ref" in schema else "JSON"))
    return ", ".join(shown)


def _anchor(operation: dict[str, Any]) -> str:
    return f"op-{operation['operationId'].replace('_', '-')}"


# -- the generated regions --------------------------------------------------------------------

def render_endpoints(document: dict[str, Any]) -> str:
    ops = operations(document)
    lines = ["| method and path | who | what |", "|---|---|---|"]
    for method, path, op in ops:
        who = WHO.get(op["operationId"], MISSING_WHO)
        lines.append(f"| [`{method} {path}`](#{_anchor(op)}) | {_cell(who)} | {_cell(op.get('summary', ''))} |")
    schemas = document.get("components", {}).get("schemas", {})
    for method, path, op in ops:
        about = " ".join(part for part in (f"{op.get('summary', '')}.", NOTES.get(op["operationId"], "")) if part)
        lines += ["", f'<a id="{_anchor(op)}"></a>', f"### `{method} {path}`", "", about, ""]
        facts = [f"**Who:** {WHO.get(op['operationId'], MISSING_WHO)}"]
        key = next((p for p in op.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"), None)
        if key is not None:
            facts.append(f"**Idempotency-Key:** {'required' if key['required'] else 'optional, honoured when sent'}")
        facts.append(f"**Success:** {_success(op)}")
        lines.append(" · ".join(facts))
        params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
        if params:
            lines += ["", "| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
            lines += [f"| `{p['name']}` | {p['in']} | {_cell(type_of(p['schema']))} | {'yes' if p['required'] else 'no'} | "
                      f"{_cell(_notes(p['schema']))} |" for p in params]
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            name = _schema_name(body["$ref"])
            table = fields_table(schemas.get(name, {}), "body field")
            lines += ["", *table] if table else ["", f"Body: {_link(name)}"]
        errors = [status for status in op["responses"] if status[0] in "45"]
        if errors:
            lines += ["", f"Errors (problem+json, see [Errors](#errors)): {', '.join(f'`{status}`' for status in errors)}"]
    return "\n".join(lines)


def request_bodies(document: dict[str, Any]) -> set[str]:
    return {_schema_name(op["requestBody"]["content"]["application/json"]["schema"]["$ref"])
            for _, _, op in operations(document) if "requestBody" in op}


def render_schemas(document: dict[str, Any]) -> str:
    """Response and resource models (request bodies are shown with their operation)."""
    bodies = request_bodies(document)
    lines: list[str] = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        if name in bodies:
            continue
        lines += [f'<a id="schema-{name.lower()}"></a>', f"### {name}", ""]
        if schema.get("description"):
            lines += [schema["description"], ""]
        lines += fields_table(schema, "field", required_column=False) or [f"{type_of(schema)}"]
        lines.append("")
    return "\n".join(lines).rstrip()


def render_errors() -> str:
    """Each problem `code` the app answers with, from the domain's exception classes."""
    from chalicelib.api.problems import status_of
    from chalicelib.domain import errors

    by_code: dict[str, list[type[errors.DomainError]]] = {}
    pending: list[type[errors.DomainError]] = list(errors.DomainError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending += cls.__subclasses__()
        if cls.code != errors.DomainError.code:
            by_code.setdefault(cls.code, []).append(cls)
    lines = ["| code | status | title | replayed under its Idempotency-Key |", "|---|---|---|---|"]
    for code, classes in sorted(by_code.items(), key=lambda item: (status_of(item[1][0]), item[0])):
        first, variants = classes[0], [cls for cls in classes[1:] if status_of(cls) != status_of(classes[0])]
        status = f"{status_of(first)}" + "".join(f", {status_of(cls)}" for cls in variants)
        title = first.title + "".join(f"; {status_of(cls)}: {cls.title}" for cls in variants)
        lines.append(f"| `{code}` | {status} | {_cell(title)} | {'yes' if first.replayable else 'no'} |")
    lines.append("| `internal_error` | 500 | Internal error (a bug: logged, never a stack trace) | no |")
    return "\n".join(lines)


def render_rules() -> str:
    """The shipped rules file, one line per setting, amounts in minor units as the file has them."""
    from chalicelib.settings import Rules, load_rules

    rules = load_rules()
    lines = ["| rule | default | meaning |", "|---|---|---|"]
    for section, model in Rules.model_fields.items():
        values = getattr(rules, section)
        for name, field in type(values).model_fields.items():
            if name == "rewards":
                continue
            meaning = "; ".join(note for note in (RULE_NOTES.get(f"{section}.{name}"), field.description) if note)
            lines.append(f"| `{section}.{name}` | `{json.dumps(getattr(values, name))}` | {_cell(meaning)} |")
    lines += ["", "Default rewards (`stars.rewards`; the service role changes the catalogue with `PUT`/`DELETE "
              "/v1/rewards/{reward_id}`):", "", "| reward_id | name | stars |", "|---|---|---|"]
    lines += [f"| `{reward.reward_id}` | {_cell(reward.name)} | {reward.stars} |" for reward in rules.stars.rewards]
    return "\n".join(lines)


def render(text: str, document: dict[str, Any]) -> str:
    """`text` with every generated region rewritten; refuses a file that lost a marker."""
    produced = {"endpoints": render_endpoints(document), "schemas": render_schemas(document),
                "errors": render_errors(), "rules": render_rules()}
    for name, body in produced.items():
        pattern = re.compile(rf"(<!-- generated:{name} [^>]*-->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"docs/api.md has no <!-- generated:{name} ... --> ... <!-- /generated:{name} --> region")
        text = pattern.sub(lambda match: match.group(1) + body + "\n" + match.group(2), text, count=1)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="apidocs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale; write nothing")
    parser.add_argument("--url", help="render from this running stack's GET /v1/openapi.json")
    parser.add_argument("--file", type=Path, default=API_MD)
    args = parser.parse_args(argv)
    current = args.file.read_text(encoding="utf-8")
    fresh = render(current, served_document(args.url))
    if args.check:
        if fresh != current:
            print(f"{args.file} is stale: run `make docs` and commit it", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        args.file.write_text(fresh, encoding="utf-8")
        print(f"wrote {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
