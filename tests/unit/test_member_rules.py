"""Members' emails: one normal form for uniqueness, invisible and control characters refused."""
import pytest

from chalicelib.domain.members import check_email, normalise_email


@pytest.mark.parametrize("spelling", ["kate@example.com", "KATE@Example.COM", "\u212aate@example.com",
                                      "\uff4b\uff41\uff54\uff45@example.com", " kate@example.com "])
def test_equivalent_spellings_share_one_normal_form(spelling):
    assert normalise_email(spelling) == "kate@example.com"


def test_case_folding_goes_beyond_lowercasing():
    assert normalise_email("STRASSE@example.com") == normalise_email("stra\u00dfe@example.com") == "strasse@example.com"
    assert normalise_email("\ufb03@example.com") == "ffi@example.com"


@pytest.mark.parametrize("email", ["a\u200b@example.com", "a\u200c@example.com", "a\u200d@example.com",
                                   "\ufeffa@example.com", "a\u2060@example.com", "a\u00ad@example.com",
                                   "a\u202e@example.com", "a\x00@example.com", "a\x1b@example.com",
                                   "a\ue000@example.com", "a\U000e0001@example.com"])
def test_invisible_control_and_private_characters_are_refused(email):
    with pytest.raises(ValueError, match="invisible or control"):
        check_email(email)


@pytest.mark.parametrize("email", ["no-at.example.com", "a@b", "a\uff20b.com@x", "a @b.com"])
def test_an_address_must_have_one_at_and_a_dotted_domain_once_normalised(email):
    with pytest.raises(ValueError):
        check_email(email)


def test_a_valid_address_is_kept_as_given_only_stripped():
    assert check_email("  Ada.L\u00f6we@example.com ") == "Ada.L\u00f6we@example.com"
