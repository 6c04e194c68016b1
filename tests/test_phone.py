"""Caller phone numbers: accepted forms and precise complaints about the rest."""

from __future__ import annotations

import pytest

from fengqiao.models.errors import ValidationError
from fengqiao.models.phone import mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13857512345", "13857512345"),
        ("138 5751 2345", "13857512345"),
        ("138-5751-2345", "13857512345"),
        ("+86 138 5751 2345", "13857512345"),
        ("+8613857512345", "13857512345"),
        ("008613857512345", "13857512345"),
        ("8613857512345", "13857512345"),
        ("0575-83012345", "0575-83012345"),
        ("057583012345", "0575-83012345"),
        ("(0575)83012345", "0575-83012345"),
        ("（0575）8301 2345", "0575-83012345"),
        ("0575-8301234", "0575-8301234"),
        ("010-62345678", "010-62345678"),
        ("02162345678", "021-62345678"),
        ("83012345", "0575-83012345"),
        ("8301234", "0575-8301234"),
        ("+86 575 8301 2345", "0575-83012345"),
    ],
)
def test_accepted(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "请输入来电号码"),
        ("1385751234", "手机号码应为 11 位，现在是 10 位"),
        ("138575123456", "手机号码应为 11 位，现在是 12 位"),
        ("12857512345", "不能以 12 开头"),
        ("1385751234a", "非法字符「a」"),
        ("138五7512345", "非法字符「五」"),  # (a full-width ５ is read as 5: NFKC, tests/test_no_number.py)
        ("0575-830123", "区号 0575 之后应为 7–8 位，现在是 6 位"),
        ("0575-0830123", "不能以 0 或 1 开头"),
        ("12345", "手机号码应为 11 位，现在是 5 位"),
        ("86123", "号码太短（5 位）"),
        ("+1 212 555 0100", "只受理中国大陆号码"),
        ("999999999", "无法识别的号码（9 位）"),
    ],
)
def test_refused_with_reason(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        normalize_phone(raw)
    assert message in str(err.value)
    assert err.value.field == "phone"


def test_mask() -> None:
    assert mask_phone("13857512345") == "138****2345"
    assert mask_phone("0575-83012345") == "0575-****2345"
