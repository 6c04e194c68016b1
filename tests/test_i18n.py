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
