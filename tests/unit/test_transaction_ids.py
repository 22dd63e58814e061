"""Transaction ids: opaque, derived from (card or member, seq), decodable without a lookup, and
accepted only in the one spelling the server issued."""
import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ledger import parse_tx_id, tx_id_for
from chalicelib.domain.members import new_member_id
from chalicelib.store.keys import card_id_for_number


def new_card_id() -> str:
    """A card id as the server issues them (derived from a new card's number)."""
    import secrets

    return card_id_for_number("".join(str(secrets.randbelow(10)) for _ in range(16)), "pepper")

owners = st.one_of(st.builds(new_card_id), st.builds(new_member_id),
                   st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=64))


@given(owner=owners, seq=st.integers(1, 2**40 - 1))
def test_an_id_decodes_to_its_card_or_member_and_sequence_and_reveals_neither(owner, seq):
    tx_id = tx_id_for(owner, seq)
    assert parse_tx_id(tx_id) == (owner, seq)
    assert tx_id == tx_id_for(owner, seq)  # derived: a retried attempt names the same entry
    if owner.startswith(("crd_", "mem_")):
        assert owner[4:] not in tx_id and owner[4:14] not in tx_id


def test_ids_of_a_card_card_and_member_never_collide():
    card, member = new_card_id(), new_member_id()
    ids = {tx_id_for(owner, seq) for owner in (card, member, card.replace("crd_", "mem_")) for seq in range(1, 50)}
    assert len(ids) == 3 * 49


def test_registered_card_ids_give_short_ids():
    assert len(tx_id_for(new_card_id(), 1)) == 46  # "tx_" + 32 sealed bytes in base64url


def test_an_altered_or_guessed_id_is_not_one():
    tx_id = tx_id_for(new_card_id(), 7)
    body = tx_id[3:]
    raw = base64.urlsafe_b64decode(body + "=")
    for wrong in (
        tx_id[:-1] + ("A" if tx_id[-1] != "A" else "B"),                       # a flipped character
        "tx_" + base64.urlsafe_b64encode(bytes([raw[0] ^ 1]) + raw[1:]).decode().rstrip("="),  # a flipped bit
        tx_id + "A", tx_id[:-1], tx_id + "=", "TX_" + body, "tx-" + body, " " + tx_id,
        "tx_" + "A" * 43, "tx_" + "9" * 4300, "tx_" + "\uff21" * 43, "tx_" + "\u0661" * 43,
        "tx_crd_0123456789abcdef0123_7", "", "tx_",
    ):
        assert parse_tx_id(wrong) is None, wrong


def test_only_the_canonical_spelling_is_accepted():
    """43 base64 characters carry 258 bits for 256: the last character's 2 spare bits must be zero."""
    tx_id = tx_id_for(new_card_id(), 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(tx_id[-1])
    for spare in (1, 2, 3):
        other = tx_id[:-1] + alphabet[last ^ spare]
        assert base64.urlsafe_b64decode(other[3:] + "=") == base64.urlsafe_b64decode(tx_id[3:] + "=")
        assert parse_tx_id(other) is None


def test_another_stage_key_issues_other_ids_and_reads_none_of_these(monkeypatch):
    card = new_card_id()
    here = tx_id_for(card, 1)
    monkeypatch.setenv("OMNICARD_CARD_NUMBER_PEPPER", "another-stage-pepper-0123456789abcdef")
    assert tx_id_for(card, 1) != here
    assert parse_tx_id(here) is None


@pytest.mark.parametrize("seq", [0, -1, 2**40])
def test_sequences_outside_the_ledger_have_no_id(seq):
    with pytest.raises(ValueError):
        tx_id_for(new_card_id(), seq)
