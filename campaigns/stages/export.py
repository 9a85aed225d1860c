"""Export: the campaign's tables (``exports.campaign_tables``) into its Google Sheet.

One spreadsheet per campaign: the first export creates it and shares it (as a writer) with the
workspace's ``CampaignSettings.share_with`` or else the author's email; later exports rewrite the
same one (``Campaign.sheet_id``). Without a service account the stage skips Sheets and says so —
the XLSX and CSV downloads (``exports.campaign_xlsx`` / ``campaign_csv``) are built on request and
need nothing configured.
"""

from __future__ import annotations

from django.utils import timezone

from ..clients.sheets import SheetsError, write_spreadsheet
from ..exports import campaign_tables
from ..models import Campaign, CampaignSettings
from . import StageContext, StageError


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    config = CampaignSettings.objects.filter(workspace_id=campaign.workspace_id).first()
    ctx.step(0.1, "Building the tables.")
    tables = campaign_tables(campaign)
    if config is None or not config.google_service_account:
        ctx.step(1.0, "Google Sheets skipped: no service account is configured. The XLSX and CSV downloads are ready.")
        return
    share_with = config.share_with or (campaign.author.email if campaign.author else "")
    ctx.step(0.3, "Writing the Google Sheet.")
    try:
        sheet = write_spreadsheet(
            service_account=config.google_service_account,
            title=f"{campaign.name} — Direct",
            tables=tables,
            sheet_id=campaign.sheet_id,
            share_with=share_with,
        )
    except SheetsError as exc:
        raise StageError(f"Google Sheets: {exc.message}", resumable=not exc.permanent) from exc
    Campaign.objects.filter(pk=campaign.pk).update(sheet_id=sheet.id, sheet_url=sheet.url, updated_at=timezone.now())
    shared = f", shared with {share_with}" if share_with else ""
    ctx.step(1.0, f"Exported to Google Sheets{shared}.")
