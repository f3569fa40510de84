"""Slugs: URL-safe, readable for Russian names, bounded in length."""

import re

import pytest

from app.utils.slugs import MAX_SLUG_LENGTH, slugify, with_suffix

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme Postcards", "acme-postcards"),
        ("  ACME  ", "acme"),
        ("acme-postcards", "acme-postcards"),
        ("Studio 42", "studio-42"),
        ("Открытки Москвы", "otkrytki-moskvy"),
        ("Щука и Ёж", "shchuka-i-ezh"),
        ("Объявления", "obyavleniya"),
        ("Подъезд 5", "podezd-5"),
        ("Café Crème", "cafe-creme"),
        ("Acme, Inc. — Post!cards & Co.", "acme-inc-post-cards-co"),
        ("a.b/c:d", "a-b-c-d"),
        ("Ярмарка 2024 / Весна", "yarmarka-2024-vesna"),
    ],
)
def test_slugify(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_slugify_treats_an_underscore_as_a_separator() -> None:
    # Underscores are punctuation like any other, so the words stay apart.
    assert slugify("red_square") == "red-square"
    assert slugify("Дом_Книги") == "dom-knigi"


def test_slugify_keeps_the_number_sign_readable() -> None:
    # "№" decomposes to "No"; losing only its capital N would leave a stray "o".
    assert slugify("Школа №5") in {"shkola-5", "shkola-no5", "shkola-no-5"}


@pytest.mark.parametrize("text", ["", "   ", "!!!", "—", "ъь", "___", "🙂🙂"])
def test_slugify_falls_back_to_company(text: str) -> None:
    assert slugify(text) == "company"


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200,
        "word " * 40,
        "Открытки " * 20,
        "x" * (MAX_SLUG_LENGTH - 1) + " tail",
    ],
)
def test_slugify_is_bounded_and_well_formed(text: str) -> None:
    slug = slugify(text)
    assert 0 < len(slug) <= MAX_SLUG_LENGTH
    assert SLUG.match(slug), slug


def test_slugify_of_a_long_name_keeps_its_start() -> None:
    assert slugify("a" * 200) == "a" * MAX_SLUG_LENGTH


@pytest.mark.parametrize(
    "text",
    ["Acme", "Открытки Москвы", "a" * 200, "word " * 40, "ab " * 40, "Щ" * 100],
)
def test_with_suffix_stays_within_the_maximum(text: str) -> None:
    slug = slugify(text)
    suffixed = with_suffix(slug, "3fa9c1")
    assert len(suffixed) <= MAX_SLUG_LENGTH
    assert suffixed.endswith("-3fa9c1")
    assert suffixed != slug


def test_with_suffix_keeps_a_short_slug_whole() -> None:
    assert with_suffix("acme", "3fa9c1") == "acme-3fa9c1"
    assert with_suffix("company", "a") == "company-a"


def test_with_suffix_truncates_only_the_slug() -> None:
    suffixed = with_suffix("a" * MAX_SLUG_LENGTH, "3fa9c1")
    assert suffixed == "a" * (MAX_SLUG_LENGTH - 7) + "-3fa9c1"
    assert len(suffixed) == MAX_SLUG_LENGTH


@pytest.mark.parametrize(
    "text",
    ["word " * 40, "ab " * 40, "abcdef " * 20, "x" * (MAX_SLUG_LENGTH - 8) + " tail"],
)
def test_with_suffix_is_a_well_formed_slug(text: str) -> None:
    # Cutting the slug where it has a hyphen must not leave "--" before the suffix.
    suffixed = with_suffix(slugify(text), "3fa9c1")
    assert SLUG.match(suffixed), suffixed
