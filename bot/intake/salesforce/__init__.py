"""Salesforce: lead reports and extracts, the REST API, its sync pass and write-back."""

from bot.intake.connector import Connector
from bot.intake.salesforce.api import SalesforceApi, credentials
from bot.intake.salesforce.export import FORMAT
from bot.intake.salesforce.sync import sync_leads
from bot.intake.salesforce.write_back import LeadRecords
from bot.settings import Settings


def _connected(settings: Settings) -> bool:
    return bool(
        settings.salesforce_consumer_key
        and (settings.salesforce_username or settings.secret(settings.salesforce_consumer_secret))
    )


def _client(settings: Settings) -> SalesforceApi:
    return SalesforceApi(credentials(settings), version=settings.salesforce_api_version)


CONNECTOR = Connector(
    export=FORMAT,
    title="Salesforce",
    setup="SALESFORCE_USERNAME and SALESFORCE_CONSUMER_KEY",
    connected=_connected,
    client=_client,
    sync=sync_leads,
    records=LeadRecords,
)
