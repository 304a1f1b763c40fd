from __future__ import annotations

import pytest

from app.core.i18n import is_language_tag, parse_accept_language, pick

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


@pytest.mark.parametrize("tag", ["en", "sr-Latn", "sr-Cyrl-RS", "cnr", "zh-Hant-TW", "de-CH-1996", "x-private", "en-US-x-twain", "es-419"])
def test_valid_tags(tag):
    assert is_language_tag(tag)


@pytest.mark.parametrize("tag", ["", "en--us", "en_US", "e", "sr-Latn-", "toolongtagx", "en US", "12"])
def test_invalid_tags(tag):
    assert not is_language_tag(tag)


def test_accept_language_ordering():
    assert parse_accept_language("sr-Latn;q=0.8, mk, en;q=0.1, *;q=0.5, de;q=0") == ["mk", "sr-Latn", "en"]
    assert parse_accept_language("garbage;;q=x, ,") == []
    assert parse_accept_language(None) == []


def test_pick_exact_prefix_and_fallback():
    names = {"en": "Asylum", "sr-Latn": "Azil", "sr-Cyrl": "Азил"}
    assert pick(names, ["sr-Cyrl"]) == ("sr-Cyrl", "Азил")
    assert pick(names, ["SR-latn-rs"]) == ("sr-Latn", "Azil")
    assert pick(names, ["sr"])[0] in ("sr-Latn", "sr-Cyrl")
    assert pick(names, ["de"]) == ("en", "Asylum")
    assert pick({"mk": "Азил"}, ["de"]) == ("mk", "Азил")
    assert pick({}, ["en"]) is None
