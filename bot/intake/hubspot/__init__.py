"""HubSpot: the contacts export, webhook events, the CRM API, its sync pass and write-back."""

from bot.intake.connector import Connector, SignedRequest, Webhook
from bot.intake.hubspot.api import HubSpotApi
from bot.intake.hubspot.export import FORMAT
from bot.intake.hubspot.sync import sync_contacts
from bot.intake.hubspot.webhook import apply_hubspot, hubspot_signature_valid
from bot.intake.hubspot.write_back import ContactRecords
from bot.settings import Settings


def _connected(settings: Settings) -> bool:
    return bool(settings.secret(settings.hubspot_access_token))


def _client(settings: Settings) -> HubSpotApi:
    return HubSpotApi(settings.secret(settings.hubspot_access_token), settings.hubspot_api_url)


def _signed(secret: str, request: SignedRequest) -> bool:
    return hubspot_signature_valid(
        secret,
        method=request.method,
        uri=request.uri,
        body=request.body,
        timestamp=request.header("X-HubSpot-Request-Timestamp"),
        signature=request.header("X-HubSpot-Signature-v3"),
    )


CONNECTOR = Connector(
    export=FORMAT,
    title="HubSpot",
    setup="HUBSPOT_ACCESS_TOKEN",
    connected=_connected,
    client=_client,
    sync=sync_contacts,
    records=ContactRecords,
    webhook=Webhook(
        setting="HUBSPOT_CLIENT_SECRET",
        secret=lambda settings: settings.secret(settings.hubspot_client_secret),
        verify=_signed,
        refusal="bad or missing X-HubSpot-Signature-v3, or a stale timestamp",
        apply=apply_hubspot,
    ),
)
