"""The /quota grammar: amounts, rates, and a specific error for every mistake."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.quota_args import QuotaInputError, parse_amount, parse_quota_args, parse_rate


@pytest.mark.parametrize(
    ("text", "dollars"),
    [
        ("500000", 500_000),
        ("500,000", 500_000),
        ("$500k", 500_000),
        ("1.2M", 1_200_000),
        ("750K", 750_000),
        ("$1,250,000.50", Fraction(2_500_001, 2)),
        ("2b", 2_000_000_000),
    ],
)
def test_amounts(text: str, dollars: int | Fraction) -> None:
    assert parse_amount(text) == dollars


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("23%", Fraction(23, 100)),
        ("0.23", Fraction(23, 100)),
        ("82.5%", Fraction(33, 40)),
        ("1", 1),
        ("100%", 1),
        (".5", Fraction(1, 2)),
    ],
)
def test_rates(text: str, rate: Fraction) -> None:
    assert parse_rate(text, key="win") == rate


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("500k win=23", "did you mean 23%?"),
        ("500k mql2sql=34", "mql2sql (MQL→SQL rate): `34` is above 1 — did you mean 34%?"),
        ("500k win=0", "must be above 0 %"),
        ("500k win=101%", "can't be above 100 %"),
        ("500k win=-5%", "can't be negative"),
        ("500k win=abc", "`abc` is not a rate for win"),
        ("500k win=", "`win=` needs a value, e.g. win=23%"),
        ("500k sql2op=80%", "did you mean `sql2opp=`?"),
        ("500k colour=blue", "unknown setting `colour`"),
        ("500k period=fortnight", "period must be month, quarter or year"),
        ("500k source=<b>", "is not a source name"),
        ("€500k", "neither an amount nor a key=value"),
        ("hlep", "did you mean `help`?"),
        ("5,00", "is not an amount for the quota"),
        ("$0", "must be more than zero"),
        ("2000b", "more than $1 trillion"),
    ],
)
def test_errors_are_specific(text: str, message: str) -> None:
    with pytest.raises(QuotaInputError) as error:
        parse_quota_args(text)
    assert message in str(error.value)


def test_full_grammar_and_aliases() -> None:
    request = parse_quota_args(
        "$1.2M aov = 15k win=20% sql_to_opp=0.5 mql2sql=25% period=Quarterly source=Outbound"
    )
    assert request.quota == 1_200_000 and request.aov == 15_000
    assert (request.win, request.sql2opp, request.mql2sql) == (
        Fraction(1, 5),
        Fraction(1, 2),
        Fraction(1, 4),
    )
    assert (request.period, request.source) == ("quarter", "outbound")
    assert request.given == ("quota", "aov", "win", "sql2opp", "mql2sql", "period", "source")


def test_help_and_empty() -> None:
    assert parse_quota_args("help").help
    assert parse_quota_args("   ").given == ()


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_with_a_message(text: str) -> None:
    try:
        parse_quota_args(text)
    except QuotaInputError as error:
        assert str(error)


def test_two_amounts_in_either_form_are_named() -> None:
    for text in ("quota=1M 500k", "1M 500k"):
        with pytest.raises(QuotaInputError, match=r"two amounts given \(`1M` and `500k`\)"):
            parse_quota_args(text)
    for text in ("quota=1M quota=2M", "1M quota=500k"):
        with pytest.raises(QuotaInputError, match="`quota` is given twice"):
            parse_quota_args(text)


def test_any_text_gets_a_request_or_a_short_reason() -> None:
    from hypothesis import settings

    vocabulary = (
        "quota= aov= win= sql2opp= period= source= help 1M 500k 23% 0.23 $ & <!channel> = x"
    )
    words = st.sampled_from([*vocabulary.split(), " "])
    texts = st.one_of(st.text(max_size=600), st.lists(words, max_size=12).map("".join))

    @settings(max_examples=400, deadline=None)
    @given(texts)
    def check(text: str) -> None:
        try:
            parse_quota_args(text)
        except QuotaInputError as error:
            assert len(str(error)) < 400  # never the whole line echoed back

    check()
