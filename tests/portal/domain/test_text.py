"""Email addresses: one form for every spelling of the same address."""

from __future__ import annotations

import pytest

from portal.domain.text import clean_email, email_key
from portal.errors import InvalidInput


@pytest.mark.parametrize(
    "spelling",
    [
        "bob@example.org",
        "  Bob@Example.ORG ",
        "BOB@EXAMPLE.ORG",
        "bob@\uff45xample.org",  # fullwidth e in the domain
        "bob@exam\uff50le.org",  # fullwidth p in the domain
        "\uff42\uff4f\uff42@example.org",  # fullwidth local part
        "\uff22\uff4f\uff42\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff4f\uff52\uff47",
        "bob@example.org.",  # the fully qualified form of the domain
        "bob@Example.Org\uff0e",
        "bob@example\u3002org",  # ideographic full stop
    ],
)
def test_every_spelling_of_an_address_has_one_form(spelling):
    assert clean_email(spelling) == "bob@example.org"
    assert email_key(spelling) == "bob@example.org"


@pytest.mark.parametrize(
    "spelling",
    [
        "bob@bücher.example",
        "bob@xn--bcher-kva.example",
        "BOB@BÜCHER.EXAMPLE",
        "bob@XN--BCHER-KVA.example.",
        "bob@bu\u0308cher.example",  # u and a combining diaeresis
    ],
)
def test_an_international_domain_and_its_idna_form_are_one_address(spelling):
    assert clean_email(spelling) == "bob@bücher.example"


@pytest.mark.parametrize(
    ("spelling", "form"),
    [
        ("\ufb01nn@example.org", "finn@example.org"),  # the "fi" ligature
        ("jose\u0301@example.org", "jos\u00e9@example.org"),
        ("J\u00d3S\u00c9@example.org", "j\u00f3s\u00e9@example.org"),
        ("\u2460\u2461@example.org", "12@example.org"),  # circled digits
        ("bob\u00b2@example.org", "bob2@example.org"),  # superscript two
    ],
)
def test_compatibility_forms_and_case_fold_to_one_form(spelling, form):
    assert clean_email(spelling) == form


@pytest.mark.parametrize(
    "spelling",
    [
        "ada@example.org",
        "\uff42\uff4f\uff42@bücher.example.",
        "Ｊｏｓé@Ｅxample.org",
        "\ufb01@x.io",
    ],
)
def test_the_form_is_stable(spelling):
    once = clean_email(spelling)
    assert clean_email(once) == once


@pytest.mark.parametrize(
    "spelling",
    ["", "   ", "not an email", "bob@", "@example.org", "bob@.", "a" * 250 + "@example.org"],
)
def test_what_is_not_an_address_is_refused(spelling):
    with pytest.raises(InvalidInput) as info:
        clean_email(spelling)
    assert info.value.field == "email"


def test_a_key_exists_even_for_what_is_not_an_address():
    assert email_key(" NOT\uff21n Email ") == "notan email"
    assert len(email_key("x" * 5000)) <= 254
