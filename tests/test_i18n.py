"""The two string catalogues have the same keys, and every status/action has a name in both."""

from fengqiao.models.i18n import catalogue, t
from fengqiao.models.machine import Action, Status


def test_catalogues_have_the_same_keys() -> None:
    zh, en = set(catalogue("zh")), set(catalogue("en"))
    assert zh - en == set(), f"missing in en.toml: {sorted(zh - en)}"
    assert en - zh == set(), f"missing in zh.toml: {sorted(en - zh)}"


def test_every_status_and_action_is_named() -> None:
    for lang in ("zh", "en"):
        for status in Status:
            assert t(f"status.{status}", lang=lang) != f"status.{status}"
        for action in Action:
            assert t(f"action.{action}", lang=lang) != f"action.{action}"


def test_placeholders_match() -> None:
    import string

    fmt = string.Formatter()
    zh, en = catalogue("zh"), catalogue("en")
    for key in zh:
        names_zh = {f for _, f, _, _ in fmt.parse(zh[key]) if f}
        names_en = {f for _, f, _, _ in fmt.parse(en[key]) if f}
        assert names_zh == names_en, key


def test_a_catalogue_read_a_table_at_a_time_finds_every_string() -> None:
    # t() parses a table of the catalogue when a key of it is first asked for (the console's first frame needs
    # a few): each key, asked of a fresh catalogue, is the string the whole file's parse gives.
    import tomllib

    from fengqiao.models.i18n import CATALOGUES, Strings, _flatten

    for lang in ("zh", "en"):
        text = (CATALOGUES / f"{lang}.toml").read_text(encoding="utf-8")
        whole: dict[str, str] = {}
        _flatten("", tomllib.loads(text), whole)
        for table in {key.partition(".")[0] for key in whole}:
            fresh = Strings(text)  # this table's keys first: one filed under another table would not be found
            for key in (k for k in whole if k.partition(".")[0] == table):
                assert fresh.get(key) == whole[key], (lang, key)
        assert Strings(text).get("no.such.key") is None
        assert Strings(text).all() == whole
