"""Targets from the quota: an agreement that gives the quota and the funnel paces against the
reverse funnel's MQLs and SQLs (DOMAIN.md's worked example, by hand: 500,000 ÷ 2,000 = 250
deals; ⌈250 ÷ 0.23⌉ = 1,087 opportunities; ⌈1,087 ÷ 0.82⌉ = 1,326 SQLs; 1,326 ÷ 0.34 = 3,900
MQLs); a typed target the funnel disagrees with is kept, and said."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.domain.agreement_file import parse_agreement
from bot.slack.render import Renderer
from tests.cli_runner import run_slabot

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "sla.toml").read_text()
UNTYPED = EXAMPLE.replace("mql_target = 3900                # per period\n", "").replace(
    "sql_target = 1326\n", ""
)


def test_the_quota_and_the_funnel_alone_give_the_worked_examples_targets() -> None:
    targets = parse_agreement(UNTYPED).targets()
    assert targets.plan is not None
    plan = targets.plan
    assert (plan.deals, plan.opportunities, plan.sqls, plan.mqls) == (250, 1087, 1326, 3900)
    assert (targets.mqls, targets.sqls, targets.derived) == (3900, 1326, True)
    assert targets.disagreements() == []


def test_a_typed_target_is_kept_and_its_disagreement_said() -> None:
    typed = parse_agreement(EXAMPLE.replace("mql_target = 3900", "mql_target = 4200"))
    targets = typed.targets()
    assert (targets.mqls, targets.sqls, targets.derived) == (4200, 1326, False)
    assert targets.disagreements() == [("MQL", 4200, 3900)]
    without_rate = parse_agreement(UNTYPED.replace("win = 0.23\n", ""))
    assert (without_rate.targets().mqls, without_rate.targets().plan) == (None, None)


def test_terms_show_where_each_target_comes_from() -> None:
    renderer = Renderer()
    derived = renderer.text("sla/terms.txt.j2", agreement=parse_agreement(UNTYPED), version=1,
                            in_force_from=date(2026, 7, 1))  # fmt: skip
    assert "MQL target  3,900 per month (from the quota)" in derived
    assert "website    60% (2,340)" in derived
    typed = parse_agreement(EXAMPLE.replace("mql_target = 3900", "mql_target = 4200"))
    blocks = renderer.text("sla/terms.json.j2", agreement=typed, version=2,
                           in_force_from=date(2026, 7, 1))  # fmt: skip
    assert "4,200 per month (the quota gives 3,900)" in blocks


def test_sla_apply_warns_of_a_typed_target_the_funnel_disagrees_with(tmp_path: Path) -> None:
    path = tmp_path / "sla.toml"
    path.write_text(EXAMPLE.replace("mql_target = 3900", "mql_target = 4200"))
    ran = run_slabot("sla", "apply", str(path), "--check",
                     env={"DATABASE_URL": f"sqlite:///{tmp_path / 'slabot.db'}"})  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert (
        "warning: the MQL target is 4,200, but the quota and funnel give 3,900 — the typed "
        "target paces; remove it to pace against the funnel's"
    ) in ran.stderr


def test_the_digest_paces_against_the_derived_targets(engine: Engine) -> None:
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest

    apply_agreement(engine, UNTYPED, now=datetime(2026, 11, 2, tzinfo=UTC))
    digest = compute_digest(engine, team="na", day=date(2026, 11, 18),
                            now=datetime(2026, 11, 18, 14, tzinfo=UTC))  # fmt: skip
    figures = digest.figures
    assert (figures.mqls.target, figures.sqls.target) == (3900, 1326)
    # the split applies to the derived target as to a typed one: 60 % website
    assert [(p.name, p.target) for p in figures.sources] == [("website", 2340), ("outbound", 1560)]


# two segments, by hand (the quota 500,000 split 60 / 40):
#   smb: 300,000 ÷ 2,000 = 150 deals; ⌈150 ÷ 0.23⌉ = 653 opportunities (652.2);
#        ⌈653 ÷ 0.82⌉ = 797 SQLs (796.3); ⌈797 ÷ 0.34⌉ = 2,345 MQLs (2,344.1)
#   enterprise: 200,000 ÷ 20,000 = 10 deals; 10 ÷ 0.20 = 50 opportunities;
#        ⌈50 ÷ 0.70⌉ = 72 SQLs (71.4); 72 ÷ 0.25 = 288 MQLs
#   targets: 2,345 + 288 = 2,633 MQLs, 797 + 72 = 869 SQLs
SEGMENTS = UNTYPED.replace(
    "[funnel.sources.outbound]",
    """[funnel.segments.smb]
share = 0.6

[funnel.segments.enterprise]
share = 0.4
aov = 20000
win = 0.20
sql_to_opp = 0.70
mql_to_sql = 0.25

[funnel.sources.outbound]""",
)


def test_two_segments_each_walk_their_share_of_the_quota_back() -> None:
    targets = parse_agreement(SEGMENTS).targets()
    plans = {
        name: (p.deals, p.opportunities, p.sqls, p.mqls) for name, p in targets.segments.items()
    }
    assert plans == {"smb": (150, 653, 797, 2345), "enterprise": (10, 50, 72, 288)}
    assert (targets.mqls, targets.sqls) == (2633, 869)


def test_quota_for_one_segment_uses_its_share_and_its_funnel() -> None:
    import pytest

    from bot.domain.quota_args import QuotaInputError, parse_quota_args
    from bot.domain.quota_plan import plan_quota

    agreement = parse_agreement(SEGMENTS)
    answer = plan_quota(parse_quota_args("segment=enterprise"), agreement, date(2026, 11, 18))
    plan = answer.plan
    assert (plan.quota, plan.deals, plan.opportunities, plan.sqls, plan.mqls) == (
        200_000, 10, 50, 72, 288,
    )  # fmt: skip
    assert answer.segment == "enterprise"
    with pytest.raises(QuotaInputError, match="unknown segment `mid` \\(known segments: smb, "):
        plan_quota(parse_quota_args("segment=mid"), agreement, date(2026, 11, 18))
    with pytest.raises(QuotaInputError, match="a source or a segment, not both"):
        parse_quota_args("source=outbound segment=smb")


def test_the_digest_paces_each_segment(engine: Engine) -> None:
    """November 2026 has 21 weekdays, 19 business days (Veterans Day and Thanksgiving off); by
    the morning of the 18th, 11 are done (2–6, 9, 10, 12, 13, 16, 17): a segment is expected
    at 11/19 of its target. 3 SMB and 1 enterprise MQLs, and one of no segment."""
    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from storage.ingest import upsert_leads

    apply_agreement(engine, SEGMENTS, now=datetime(2026, 11, 2, tzinfo=UTC))
    at = datetime(2026, 11, 10, 15, tzinfo=UTC)
    rows = [("S1", "SMB"), ("S2", "smb"), ("S3", "smb"), ("E1", "enterprise"), ("N1", None)]
    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(ext, {"mql_at": at, "stage": "mql", "source": "website",
                             **({"segment": segment} if segment else {})})
            for ext, segment in rows
        ], source_system="native", origin="import")  # fmt: skip
    digest = compute_digest(engine, team="na", day=date(2026, 11, 18),
                            now=datetime(2026, 11, 18, 14, tzinfo=UTC))  # fmt: skip
    paces = [(p.name, p.actual, p.target) for p in digest.figures.segments]
    assert paces == [("smb", 3, 2345), ("enterprise", 1, 288), ("other segments", 1, None)]
    assert digest.figures.where.business_days == 19 and digest.figures.where.completed == 11
    smb = digest.figures.segments[0]
    assert smb.expected == Fraction(2345 * 11, 19)


def test_the_digest_judges_each_segment_s_quality(engine: Engine) -> None:
    """MQLs 30–60 days old on 18 November (19 Sep – 18 Oct): SMB 10, 3 of them SQLs — 30 %
    against the blended 34 %: 30 / 34 = 88 %, below the 10 % tolerance, behind; enterprise 4,
    one SQL — 25 % against its own 25 %: on track. One MQL of no segment is in the blend
    only."""
    from rich.text import Text

    from bot.domain.leads import LeadRecord
    from bot.services.agreements import apply_agreement
    from bot.services.digest import compute_digest
    from bot.slack.render import Renderer
    from storage.ingest import upsert_leads

    apply_agreement(engine, SEGMENTS, now=datetime(2026, 9, 1, tzinfo=UTC))
    at = datetime(2026, 10, 1, 15, tzinfo=UTC)
    rows = [(f"S{n}", "smb", n < 3) for n in range(10)]
    rows += [(f"E{n}", "Enterprise", n < 1) for n in range(4)] + [("N1", None, False)]
    with engine.begin() as connection:
        upsert_leads(connection, [
            LeadRecord(ext, {"mql_at": at, "stage": "sql" if sql else "mql", "source": "website",
                             **({"sql_at": at} if sql else {}),
                             **({"segment": segment} if segment else {})})
            for ext, segment, sql in rows
        ], source_system="native", origin="import")  # fmt: skip
    digest = compute_digest(engine, team="na", day=date(2026, 11, 18),
                            now=datetime(2026, 11, 18, 14, tzinfo=UTC))  # fmt: skip
    found = [(c.source, c.mqls, c.sqls, c.assumed, c.status) for c in digest.cohort_segments]
    assert found == [
        ("smb", 10, 3, Fraction(34, 100), "behind"),
        ("enterprise", 4, 1, Fraction(25, 100), "on track"),
    ]
    assert (digest.cohort[0].mqls, digest.cohort[0].sqls) == (15, 4)
    shown = Text.from_markup(Renderer().text("digest/terminal.txt.j2", d=digest)).plain
    assert "By segment: smb 30% (34%) 🔴 · enterprise 25% (25%) 🟢" in shown, shown
