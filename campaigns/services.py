"""Writing campaigns: the brief is checked here, for the dashboard, the API, the admin and the bot alike."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from crosspost.activity import log_activity
from crosspost.jobs import job_request_cancel
from crosspost.models import LogStatus

from .models import Campaign, CampaignSettings, CampaignStatus

MAX_BASE_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 200
MAX_MINUS_WORDS = 200
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)
EDITABLE_FIELDS = (
    "name",
    "product_description",
    "target_url",
    "base_keywords",
    "regions",
    "budget",
    "minus_words",
    "ads_per_cluster",
)


def check_target_url(url: str) -> str:
    """An absolute http(s) URL with a host name of valid syntax and no spaces; returned stripped."""
    url = (url or "").strip()
    if not url:
        raise ValidationError("Give the landing page URL, e.g. https://shop.example/linen-dress.")
    if any(ch.isspace() for ch in url):
        raise ValidationError("The URL contains spaces; encode them as %20 or remove them.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError("The URL must start with http:// or https://.")
    host = parts.hostname or ""
    try:
        ascii_host = host.encode("idna").decode() if host else ""
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.rstrip(".").split(".") if ascii_host else []
    if len(labels) < 2 or not all(HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError(f"“{host or url}” is not a valid host name; use a domain such as shop.example.")
    return url


def _phrases(value, *, field: str, most: int, least: int = 0) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"[\n,;]+", value)
    if not isinstance(value, (list, tuple)):
        raise ValidationError({field: "Give a list of phrases (or one per line)."})
    phrases, seen = [], set()
    for raw in value:
        phrase = " ".join(str(raw).split())
        if not phrase or phrase.lower() in seen:
            continue
        if len(phrase) > MAX_KEYWORD_LENGTH:
            raise ValidationError({field: f"“{phrase[:40]}…” is longer than {MAX_KEYWORD_LENGTH} characters."})
        seen.add(phrase.lower())
        phrases.append(phrase)
    if len(phrases) < least:
        raise ValidationError({field: f"Give at least {least} phrase(s)."})
    if len(phrases) > most:
        raise ValidationError({field: f"At most {most} phrases; {len(phrases)} were given."})
    return phrases


def _regions(value) -> list[int]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,;]+", value) if part]
    if not isinstance(value, (list, tuple)):
        raise ValidationError({"regions": "Give Yandex region ids as a list of numbers, e.g. [213, 2]."})
    regions = []
    for raw in value:
        try:
            region = int(raw)
        except (TypeError, ValueError):
            raise ValidationError({"regions": f"“{raw}” is not a Yandex region id (a whole number such as 213)."}) from None
        if region <= 0:
            raise ValidationError({"regions": f"{region} is not a Yandex region id; they are positive numbers."})
        if region not in regions:
            regions.append(region)
    return regions


def clean_brief(fields: dict) -> dict:
    """The brief's fields checked and normalised; a ValidationError names each field to fix."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unexpected campaign fields: {', '.join(sorted(unknown))}")
    cleaned, errors = dict(fields), {}
    checks = {
        "target_url": check_target_url,
        "base_keywords": lambda v: _phrases(v, field="base_keywords", most=MAX_BASE_KEYWORDS, least=1),
        "minus_words": lambda v: _phrases(v, field="minus_words", most=MAX_MINUS_WORDS),
        "regions": _regions,
    }
    for name, check in checks.items():
        if name in fields:
            try:
                cleaned[name] = check(fields[name])
            except ValidationError as exc:
                errors[name] = exc.message_dict.get(name, exc.messages) if hasattr(exc, "error_dict") else exc.messages
    if "budget" in fields and fields["budget"] not in (None, ""):
        try:
            budget = Decimal(str(fields["budget"]))
            if budget <= 0 or budget.as_tuple().exponent < -2:
                raise InvalidOperation
            cleaned["budget"] = budget
        except (InvalidOperation, ValueError):
            errors["budget"] = ["The budget is a positive amount with at most 2 decimals, or empty."]
    elif "budget" in fields:
        cleaned["budget"] = None
    if "ads_per_cluster" in fields:
        try:
            cleaned["ads_per_cluster"] = int(fields["ads_per_cluster"])
            if not 1 <= cleaned["ads_per_cluster"] <= 5:
                raise ValueError
        except (TypeError, ValueError):
            errors["ads_per_cluster"] = ["Ads per cluster is a whole number from 1 to 5."]
    for name in ("name", "product_description"):
        if name in fields:
            cleaned[name] = str(fields[name] or "").strip()
            if not cleaned[name]:
                errors[name] = ["This field is required."]
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def campaign_create(*, workspace, author=None, **fields) -> Campaign:
    missing = [name for name in ("name", "product_description", "target_url", "base_keywords") if name not in fields]
    if missing:
        raise ValidationError({name: ["This field is required."] for name in missing})
    campaign = Campaign(workspace=workspace, author=author if getattr(author, "is_authenticated", False) else None)
    for name, value in clean_brief(fields).items():
        setattr(campaign, name, value)
    campaign.full_clean()
    campaign.save()
    log_activity(
        action="campaign.create",
        workspace=workspace,
        actor=author,
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» created.",
        details={"campaign": campaign.pk, "keywords": len(campaign.base_keywords)},
    )
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor=None, **fields) -> Campaign:
    """Change the brief. A changed brief runs again from the start (its stages' outputs are stale)."""
    locked = Campaign.objects.select_for_update().select_related("job").get(pk=campaign.pk)
    if locked.job is not None and not locked.job.finished:
        raise ValidationError("The campaign is being built; cancel the run before changing the brief.", code="conflict")
    cleaned = clean_brief(fields)
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    if set(cleaned) & {"base_keywords", "regions", "minus_words"}:
        campaign.finished_stage = ""
    campaign.full_clean()
    campaign.save()
    log_activity(
        action="campaign.update",
        workspace=campaign.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» edited.",
        details={"campaign": campaign.pk, "fields": sorted(cleaned)},
    )
    return campaign


def campaign_cancel(*, campaign: Campaign, actor=None) -> None:
    if campaign.job is None or campaign.job.finished:
        raise ValidationError("The campaign is not being built; there is nothing to cancel.", code="conflict")
    job_request_cancel(job=campaign.job, actor=actor)
    if campaign.job.finished:  # it had not started: cancelled at once
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)


@transaction.atomic
def campaign_delete(*, campaign: Campaign, actor=None) -> None:
    if campaign.job is not None and not campaign.job.finished:
        raise ValidationError("The campaign is being built; cancel the run before deleting it.", code="conflict")
    log_activity(
        action="campaign.delete",
        workspace=campaign.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» deleted.",
        details={"campaign": campaign.pk},
    )
    campaign.delete()


def campaign_archive(*, campaign: Campaign, actor=None, archived: bool = True) -> Campaign:
    if campaign.job is not None and not campaign.job.finished:
        raise ValidationError("The campaign is being built; cancel the run before archiving it.", code="conflict")
    if archived:
        campaign.status = CampaignStatus.ARCHIVED
    elif campaign.status == CampaignStatus.ARCHIVED:
        campaign.status = CampaignStatus.COMPLETED if campaign.finished_stage == "export" else CampaignStatus.DRAFT
    campaign.save(update_fields=["status", "updated_at"])
    log_activity(
        action="campaign.archive" if archived else "campaign.restore",
        workspace=campaign.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» {'archived' if archived else 'restored'}.",
    )
    return campaign


AD_FIELDS = ("title1", "title2", "text", "display_path")


@transaction.atomic
def ad_update(*, ad, actor=None, **fields):
    """Change an ad's texts by hand. It is marked ``edited`` (a new generate run keeps it) and the
    validate stage checks it again against Yandex Direct's limits on the next run."""
    unknown = set(fields) - set(AD_FIELDS)
    if unknown:
        raise TypeError(f"unexpected ad fields: {', '.join(sorted(unknown))}")
    changed = []
    for name, value in fields.items():
        value = " ".join(str(value or "").split()) if name != "display_path" else str(value or "").strip()
        if getattr(ad, name) != value:
            setattr(ad, name, value)
            changed.append(name)
    if not ad.title1:
        raise ValidationError({"title1": ["Title 1 is required."]})
    if not ad.text:
        raise ValidationError({"text": ["The ad text is required."]})
    ad.edited = True
    ad.full_clean()
    ad.save()
    log_activity(
        action="campaign.ad_edit",
        workspace=ad.campaign.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Campaign #{ad.campaign_id}: ad #{ad.pk} edited by hand.",
        details={"campaign": ad.campaign_id, "ad": ad.pk, "fields": changed},
    )
    return ad


SERVICE_ACCOUNT_KEYS = ("type", "client_email", "private_key")


def check_service_account(value) -> dict:
    """A Google service account's JSON key (as downloaded from the Cloud console), parsed and
    checked for the keys gspread needs; ``{}`` (or empty text) removes the key."""
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError(
                {"google_service_account": ["This is not JSON: paste the whole key file the Cloud console downloaded."]}
            ) from None
    if not isinstance(value, dict):
        raise ValidationError({"google_service_account": ["The key is a JSON object (the whole key file)."]})
    missing = [key for key in SERVICE_ACCOUNT_KEYS if not value.get(key)]
    if missing or value.get("type") != "service_account":
        raise ValidationError(
            {
                "google_service_account": [
                    'This is not a service account key: it needs type "service_account", client_email and '
                    f"private_key (missing: {', '.join(missing) or 'type'})."
                ]
            }
        )
    return value


@transaction.atomic
def campaign_settings_save(
    *, workspace, actor=None, wordstat_token: str | None = None, google_service_account=None, share_with: str | None = None
) -> CampaignSettings:
    """Change a workspace's campaign integrations. ``None`` keeps a secret as it is; an empty value
    removes it. Secrets are never logged: the activity says only which ones changed."""
    settings_row, _created = CampaignSettings.objects.select_for_update().get_or_create(workspace=workspace)
    changed = []
    if wordstat_token is not None:
        settings_row.wordstat_token = wordstat_token.strip()
        changed.append("wordstat_token")
    if google_service_account is not None:
        settings_row.google_service_account = check_service_account(google_service_account)
        changed.append("google_service_account")
    if share_with is not None:
        settings_row.share_with = share_with.strip()
        changed.append("share_with")
    settings_row.full_clean()
    settings_row.save()
    log_activity(
        action="campaign.settings",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message="Campaign settings changed.",
        details={"fields": changed},
    )
    return settings_row
