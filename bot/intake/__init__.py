"""Lead intake: CSV files, webhooks and live CRM syncs, mapped onto `bot.domain.leads`' records
and stored through `storage.ingest`. One folder per CRM behind `connector.Connector`."""
