"""The starter agreement `slabot init` writes, made to match a CRM: its MQL split and per-source
overrides named as the CRM's own source values arrive (HubSpot's Original Source, Salesforce's
Lead Source), so the first digest's split is not "other sources" for every lead."""

from __future__ import annotations

import re

# each CRM's standard values, as slabot stores them (their labels, lower-cased with _)
SPLITS = {
    "hubspot": (
        "# HubSpot's Original Source values\n"
        "organic_search = 0.3\npaid_search = 0.2\norganic_social = 0.1\n"
        "email_marketing = 0.1\nreferrals = 0.1\ndirect_traffic = 0.1\noffline_sources = 0.1\n",
        "paid_search",
    ),
    "salesforce": (
        "# Salesforce's standard Lead Source picklist\n"
        "web = 0.5\npartner_referral = 0.2\nphone_inquiry = 0.1\npurchased_list = 0.1\n"
        "other = 0.1\n",
        "purchased_list",
    ),
}


def for_crm(starter: str, crm: str) -> str:
    """`starter` (examples/sla.toml) with the split and the per-source override of `crm`'s
    standard sources in place of the example's website/outbound."""
    split, override = SPLITS[crm]
    text = re.sub(
        r"(?ms)^(\[marketing\.sources\][^\n]*\n).*?(?=^\n)", lambda m: m.group(1) + split, starter
    )
    return text.replace("[funnel.sources.outbound]", f"[funnel.sources.{override}]")
