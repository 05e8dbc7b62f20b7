"""The column-wise phone fast path must never disagree with phonenumbers itself."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_upload_app.files.phones import check_phone, e164_column, fast_e164
from bulk_upload_app.files.validation import VALID_CALLING_CODES

_TYPES = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]


def _examples(code: int) -> list[str]:
    region = phonenumbers.region_code_for_country_code(code)
    result = []
    for kind in _TYPES:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            result.append(phonenumbers.national_significant_number(example))
    return result


def _variants(code: int, nsn: str, rng: random.Random) -> list[str]:
    mutated = "".join(c if rng.random() > 0.3 else str(rng.randint(0, 9)) for c in nsn)
    shorter, longer = nsn[:-1], nsn + str(rng.randint(0, 9))
    out = []
    for n in (nsn, mutated, shorter, longer):
        out += [
            f"+{code}{n}",
            f"+{code} {n[:3]} {n[3:]}",
            f"0{n}",
            f"({n[:3]}) {n[3:6]}-{n[6:]}",
            n,
            f"00{code}{n}",
            f"{code}{n}",
            f"+{code} (0){n}",
            f"1{n}",
            f"0-{n[:2]}.{n[2:]}",
        ]
    return out


def _compare(code: int, values: list[str]) -> int:
    fast = fast_e164(code, pl.Series("p", values, dtype=pl.String)).to_list()
    vouched = 0
    for value, quick in zip(values, fast):
        if quick is not None:
            vouched += 1
            assert quick == check_phone(code, value), (code, value)
    return vouched


@pytest.mark.parametrize("code", sorted(VALID_CALLING_CODES))
def test_fast_path_agrees_with_phonenumbers_for_every_calling_code(code):
    rng = random.Random(code)
    values = [v for nsn in _examples(code) for _ in range(3) for v in _variants(code, nsn, rng)]
    _compare(code, values)


def test_fast_path_vouches_for_the_common_forms():
    values = ["07400 123456", "+44 7400 123456", "020 7183 8750", "+442071838750"]
    assert fast_e164(44, pl.Series("p", values)).to_list() == [
        "+447400123456",
        "+447400123456",
        "+442071838750",
        "+442071838750",
    ]
    assert fast_e164(1, pl.Series("p", ["(202) 555-0143", "+1 202 555 0143"])).to_list() == ["+12025550143"] * 2


def test_the_comparison_covers_many_fast_verdicts():
    """Guards the agreement test against a fast path that silently vouches for nothing."""
    rng = random.Random(0)
    vouched = sum(
        _compare(code, [v for nsn in _examples(code) for v in _variants(code, nsn, rng)])
        for code in sorted(VALID_CALLING_CODES)
    )
    assert vouched > 2000


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([1, 7, 33, 39, 44, 49, 52, 54, 55, 61, 81, 86, 91, 234, 353, 972]),
    st.lists(st.from_regex(r"\+?[0-9 ()\-.]{0,18}", fullmatch=True), min_size=1, max_size=8),
)
def test_fast_path_never_disagrees_on_arbitrary_input(code, values):
    _compare(code, values)


def test_e164_column_matches_check_phone_row_by_row():
    codes = pl.Series([44, 44, 1, None, 49, 44], dtype=pl.Int32)
    phones = pl.Series(["07400 123456", "123", "+1 202 555 0143", "07400 123456", "030 12345678", ""])
    expected = [check_phone(c, p) if c and p else None for c, p in zip(codes.to_list(), phones.to_list())]
    assert e164_column(codes, phones).to_list() == expected
