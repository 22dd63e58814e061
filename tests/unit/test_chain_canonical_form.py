"""The verifiable ledger's canonical form and hash (contract v1.1, "Verifiable ledger"): RFC 8785
(JCS) checked against an independent reference on odd strings, nulls dropped at every level, and
the README's worked example reproduced byte for byte."""
from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ledger_chain import GENESIS, canonical_form, canonical_json, first_break, transaction_hash
from tests.conftest import ROOT


def reference_jcs(value) -> str:
    """A tiny independent JCS for our value space (no floats): Python's json escapes exactly `"`,
    `\\`, \\b \\f \\n \\r \\t and other U+0000–U+001F as lowercase \\u00xx when ensure_ascii is off;
    members sorted by UTF-16 code units (big-endian bytes compare the same way)."""
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + reference_jcs(v) for k, v in members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(reference_jcs(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# Odd strings: every control character, quotes and backslashes, DEL, non-ASCII, astral emoji,
# characters above the BMP next to U+E000–U+FFFF (where UTF-16 and code-point order differ).
odd_text = st.text(st.one_of(st.characters(max_codepoint=0x1F), st.sampled_from('"\\/\x7f\u2028\u2029\ufeff\ue000\uffff'),
                             st.sampled_from("éß漢字😀🧾𝄞"), st.characters(exclude_categories=("Cs",))), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=5), max_leaves=20)


@given(json_values)
def test_canonical_json_matches_an_independent_reference_on_odd_strings(value):
    assert canonical_json(value) == reference_jcs(value).encode("utf-8")


@given(st.dictionaries(odd_text, odd_text, max_size=6))
def test_members_are_sorted_by_utf16_code_units(value):
    keys = list(json.loads(canonical_json(value)))
    assert keys == sorted(value, key=lambda key: [int.from_bytes(key.encode("utf-16-be")[i:i + 2], "big")
                                                  for i in range(0, len(key.encode("utf-16-be")), 2)])


def test_rfc8785_string_escapes_and_utf16_order():
    assert canonical_json({"\U0001F600": 1, "\ue000": 2, "a": 3}) == '{"a":3,"😀":1,"\ue000":2}'.encode()
    assert canonical_json("\b\f\n\r\t\x00\x1f\x7f\"\\/é") == b'"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\\"\\\\/\xc3\xa9"'


def test_floats_are_refused_rather_than_formatted():
    with pytest.raises(TypeError):
        canonical_json({"amount": 1.5})


@given(st.dictionaries(odd_text, json_values, max_size=5), st.text(st.sampled_from("0123456789abcdef"), min_size=64, max_size=64))
def test_hash_is_sha256_of_prev_hash_newline_and_the_null_free_canonical_form_without_hash(body, prev):
    transaction = {**body, "prev_hash": prev, "hash": "anything", "nested": {"gone": None, "kept": [None, 1]}}
    expected_body = {key: value for key, value in transaction.items() if key != "hash"}

    def drop_nulls(value):
        if isinstance(value, dict):
            return {k: drop_nulls(v) for k, v in value.items() if v is not None}
        return [drop_nulls(v) for v in value] if isinstance(value, list) else value

    canonical = reference_jcs(drop_nulls(expected_body)).encode()
    assert canonical_form(transaction) == canonical
    assert transaction_hash(transaction) == hashlib.sha256(prev.encode() + b"\n" + canonical).hexdigest()
    assert b'"kept":[null,1]' in canonical and b"gone" not in canonical  # nulls inside arrays are values


# The README's worked example: a real payment as GET /v1/cards/{card_id}/transactions showed it.
SAMPLE = {'tx_id': 'tx_C1B1ghrRRweZL-isscNLbBX9TBvk8DQx5mxqW4MeRp8', 'card_id': 'crd_e7570af25992fd7b9cc7', 'member_id': 'mem_550ec4a9aa2567e0b78f', 'kind': 'payment', 'amount': {'amount': -1250, 'currency': 'USD'}, 'balance_after': {'amount': 1250, 'currency': 'USD'}, 'stars': 25, 'stars_after': 25, 'channel': 'pos', 'store_id': 'S1', 'agent_id': None, 'reason_code': None, 'reverses': None, 'created_at': '2026-01-15T12:00:00.000Z', 'hold_id': None, 'offline': False, 'occurred_at': None, 'stars_shortfall': 0, 'prev_hash': 'a3a99e42a1034bd222da6ea4a3a2a164b38af9f45bb9ab546a463dac493073f2', 'hash': 'caedd528972283296b8316b6afb8448a542d363471a033e200db39f3c53918f7'}


def test_the_readme_worked_example_reproduces_byte_for_byte():
    readme = (ROOT / "README.md").read_text()
    canonical = canonical_form(SAMPLE)
    assert canonical.decode() in readme
    assert transaction_hash(SAMPLE) == SAMPLE["hash"] and SAMPLE["hash"] in readme


def _chain(count):
    transactions, prev = [], GENESIS
    for index in range(count):
        transaction = {"tx_id": f"tx_{index}", "kind": "reload", "stars": index, "prev_hash": prev}
        transaction["hash"] = prev = transaction_hash(transaction)
        transactions.append(transaction)
    return transactions, prev


def test_a_chain_verifies_and_each_edit_removal_or_reordering_breaks_it_at_the_first_bad_link():
    chain, head = _chain(4)
    assert first_break(chain, head) is None
    assert first_break([], None) is None

    edited = [dict(t) for t in chain]
    edited[1]["stars"] = 99
    assert (first_break(edited, head).position, first_break(edited, head).tx_id) == (1, "tx_1")
    removed = chain[:1] + chain[2:]
    assert first_break(removed, head).tx_id == "tx_2"
    reordered = [chain[0], chain[2], chain[1], chain[3]]
    assert first_break(reordered, head).tx_id == "tx_2"
    assert first_break(chain[:3], head).tx_id is None  # the newest one withheld: the head disagrees
    assert first_break(chain, None) is not None
