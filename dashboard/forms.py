"""Dashboard forms: they validate and explain; the services do the work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountGroup, AccountStatus, Platform, Proxy, Role, SocialAccount, Workspace
from accounts.selectors import scope
from crosspost.models import action_label
from media.models import MediaAsset
from planning.models import Frequency, Weekday
from planning.recurrence import MAX_INTERVAL
from posts.models import MAX_MEDIA_PER_POST, CaptionMode, MediaType, Post, Priority
from posts.services import check_caption, check_caption_mode, check_scheduled_at
from sources.kinds import options_errors
from sources.models import IngestMode, Source, SourceKind
from stats.exports import EXPORT_FORMATS, export_range
from translations.exceptions import UnsupportedLanguage
from translations.languages import check_code

from .selectors import workspaces_with_role


def language_code(value: str) -> str:
    """A BCP-47 code as the translations know it, or a form error saying what one looks like."""
    try:
        return check_code(value.strip())
    except UnsupportedLanguage:
        raise ValidationError(
            _("%(value)s is not a language code: use a code such as en, de, pt-BR."), params={"value": value}, code="invalid"
        ) from None


class WorkspaceField(forms.ModelChoiceField):
    """The workspace to act in; a hidden input when the user has just one."""

    def __init__(self, user, min_role: str, **kwargs):
        queryset = workspaces_with_role(user, min_role)
        super().__init__(queryset=queryset, label=_("Workspace"), empty_label=None, **kwargs)
        workspaces = list(queryset[:2])
        self.single = workspaces[0] if len(workspaces) == 1 else None
        if self.single is not None:
            self.initial = self.single.pk
            self.widget = forms.HiddenInput()

    def clean(self, value):
        # With one workspace there is nothing to choose: an empty value means that one.
        if value in self.empty_values and self.single is not None:
            return self.single
        return super().clean(value)


def aware_local(day, clock, zone) -> datetime:
    """``day`` + ``clock`` read in ``zone``; a ValidationError when the wall-clock time does not exist
    there (clocks jump forward) or exists twice (clocks go back) — never silently shifted."""
    naive = datetime.combine(day, clock)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    # The operator's own input, in the locale's format like every other date on the page.
    params = {"value": date_format(naive, "SHORT_DATETIME_FORMAT"), "zone": getattr(zone, "key", str(zone))}
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(
            _("%(value)s does not exist in %(zone)s: the clocks jump forward at the daylight-saving change. Pick another time."),
            code="nonexistent",
            params=params,
        )
    if first.utcoffset() != second.utcoffset():
        raise ValidationError(
            _(
                "%(value)s happens twice in %(zone)s: the clocks go back at the daylight-saving change. "
                "Pick a time outside the repeated hour."
            ),
            code="ambiguous",
            params=params,
        )
    return first


class OrderedAssetsField(forms.Field):
    """Media asset ids in carousel order (repeated hidden inputs), as MediaAsset objects of the user's workspaces."""

    widget = forms.MultipleHiddenInput

    def __init__(self, user, **kwargs):
        self.user = user
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> list[MediaAsset]:
        ids = []
        for raw in value or []:
            if not str(raw).isdigit():
                raise ValidationError(_("%(value)s is not a media id."), params={"value": raw}, code="invalid")
            ids.append(int(raw))
        if len(ids) > MAX_MEDIA_PER_POST:
            raise ValidationError(
                _("A post carries at most %(max)d media; remove %(extra)d."),
                params={"max": MAX_MEDIA_PER_POST, "extra": len(ids) - MAX_MEDIA_PER_POST},
                code="too_many",
            )
        if len(set(ids)) != len(ids):
            raise ValidationError(_("Each file may appear once in a post."), code="repeated")
        found = scope(MediaAsset.objects.all(), self.user).in_bulk(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValidationError(_("This media is no longer available: upload it again."), code="missing")
        return [found[i] for i in ids]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class AccountChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: SocialAccount) -> str:
        return f"{obj.get_platform_display()} · {obj.handle} ({obj.language})"


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: AccountGroup) -> str:
        return obj.name


class ComposeForm(forms.Form):
    """A post as an operator composes it: media, caption, targets, schedule and priority."""

    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200, required=False, help_text=_("Internal name; optional."))
    caption = forms.CharField(label=_("Caption"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    language = forms.CharField(label=_("Caption language"), max_length=10, initial="en")
    media_type = forms.ChoiceField(label=_("Media type"), choices=MediaType.choices, initial=MediaType.PHOTO)
    caption_mode = forms.ChoiceField(
        label=_("Caption mode"),
        choices=CaptionMode.choices,
        initial=CaptionMode.ORIGINAL,
        required=False,  # left out (an older page, a script): the original text
        help_text=_("AI: the caption is the brief; one caption per platform and language is written for review."),
    )
    caption_template = forms.CharField(
        label=_("Caption template"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For the template mode: {caption}, {description}, {hashtags}, {title}, {brand}, {composition}, {care}."),
    )
    target_groups = GroupChoiceField(
        label=_("Target groups"), queryset=AccountGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    target_accounts = AccountChoiceField(
        label=_("Target accounts"),
        queryset=SocialAccount.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    schedule = forms.ChoiceField(
        label=_("When"),
        choices=[("now", _("Now")), ("later", _("At a date and time"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    files = MultipleFileField(label=_("Add files"), required=False, widget=MultipleFileInput(attrs={"accept": "image/*,video/*"}))

    def __init__(self, *args, user, post: Post | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.post = post
        self.fields["workspace"] = WorkspaceField(user, Role.EDITOR)
        if post is not None:
            self.fields["workspace"].disabled = True
            self.fields["workspace"].initial = post.workspace_id
        self.fields["media"] = OrderedAssetsField(user)
        self.fields["target_groups"].queryset = scope(AccountGroup.objects.all(), user, Role.EDITOR).order_by("name", "pk")
        self.fields["target_accounts"].queryset = (
            scope(SocialAccount.objects.all(), user, Role.EDITOR)
            .only("id", "workspace_id", "platform", "handle", "language")
            .order_by("platform", "handle", "pk")
        )

    def clean_language(self) -> str:
        return language_code(self.cleaned_data["language"])

    def clean_caption_mode(self) -> str:
        return self.cleaned_data["caption_mode"] or CaptionMode.ORIGINAL

    def clean(self) -> dict:
        data = super().clean()
        workspace = data.get("workspace")
        groups, accounts = data.get("target_groups") or [], data.get("target_accounts") or []
        if "target_groups" in data and "target_accounts" in data and not groups and not accounts:
            self.add_error("target_groups", _("Choose at least one target group or account."))
        if workspace is not None:
            for name, objects in (("target_groups", groups), ("target_accounts", accounts), ("media", data.get("media") or [])):
                strangers = [str(obj) for obj in objects if obj.workspace_id != workspace.pk]
                if strangers:
                    self.add_error(
                        name,
                        _("Not in workspace %(workspace)s: %(names)s.") % {"workspace": workspace, "names": ", ".join(strangers)},
                    )
        self._clean_media(data)
        self._clean_schedule(data)
        if "caption_mode" in data:
            try:
                check_caption_mode(data["caption_mode"], data.get("caption_template") or "")
            except ValidationError as exc:
                self.add_error("caption_template", exc)
        return data

    def _clean_media(self, data: dict) -> None:
        count = len(data.get("media") or []) + len(data.get("files") or [])
        media_type = data.get("media_type")
        if count > MAX_MEDIA_PER_POST:
            self.add_error("media", _("A post carries at most %(max)d media.") % {"max": MAX_MEDIA_PER_POST})
        elif media_type == MediaType.CAROUSEL and count < 2:
            self.add_error("media", _("A carousel needs 2 to 10 photos or videos."))
        elif media_type and media_type != MediaType.TEXT and count == 0:
            self.add_error("media", _("Add a photo or video, or choose the media type Text."))
        elif media_type:
            try:
                check_caption(media_type, data.get("caption") or "")
            except ValidationError as exc:
                self.add_error("caption", exc)

    def _clean_schedule(self, data: dict) -> None:
        data["scheduled_at"] = None
        if data.get("schedule") != "later":
            return
        day, clock = data.get("date"), data.get("time")
        if day is None and "date" not in self.errors:
            self.add_error("date", _("Pick the day to publish on."))
        if clock is None and "time" not in self.errors:
            self.add_error("time", _("Pick the time to publish at."))
        if day is None or clock is None:
            return
        try:
            at = aware_local(day, clock, timezone.get_current_timezone())
        except ValidationError as exc:
            self.add_error("time", exc)
            return
        try:
            check_scheduled_at(at)
        except ValidationError as exc:
            self.add_error("time", exc)
            return
        data["scheduled_at"] = at

    @staticmethod
    def initial_from(post: Post) -> dict:
        local = timezone.localtime(post.scheduled_at) if post.scheduled_at else None
        return {
            "workspace": post.workspace_id,
            "title": post.title,
            "caption": post.caption,
            "language": post.language,
            "media_type": post.media_type,
            "caption_mode": post.caption_mode,
            "caption_template": post.caption_template,
            "media": [pm.asset_id for pm in post.media.all()],
            "target_groups": [g.pk for g in post.target_groups.all()],
            "target_accounts": [a.pk for a in post.target_accounts.all()],
            "schedule": "later" if local else "now",
            "date": local.date() if local else None,
            "time": local.time().replace(second=0, microsecond=0) if local else None,
            "priority": post.priority,
        }

    def post_fields(self) -> dict:
        """Keyword arguments for post_create / post_update."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "caption": data["caption"],
            "language": data["language"],
            "media_type": data["media_type"],
            "caption_mode": data["caption_mode"],
            "caption_template": data["caption_template"],
            "priority": data["priority"],
            "scheduled_at": data["scheduled_at"],
            "target_groups": list(data["target_groups"]),
            "target_accounts": list(data["target_accounts"]),
        }


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"] = WorkspaceField(user, Role.EDITOR)


class CaptionForm(forms.Form):
    language = forms.CharField(max_length=20)
    caption = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4}))

    def clean_language(self) -> str:
        try:
            return check_code(self.cleaned_data["language"])
        except UnsupportedLanguage as exc:
            raise ValidationError(str(exc)) from None


class AICaptionForm(forms.Form):
    """One stored AI caption as the operator rewrites it (the service checks it against the rules)."""

    platform = forms.ChoiceField(choices=Platform.choices)
    language = forms.CharField(max_length=20)
    caption = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 4}))


# --- accounts ------------------------------------------------------------------------------------------


class AccountFilterForm(forms.Form):
    q = forms.CharField(label=_("Handle"), required=False, widget=forms.TextInput(attrs={"type": "search"}))
    platform = forms.ChoiceField(label=_("Platform"), required=False, choices=[("", _("All platforms")), *Platform.choices])
    group = forms.ChoiceField(label=_("Group"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")), *AccountStatus.choices])
    language = forms.ChoiceField(label=_("Language"), required=False)

    def __init__(self, *args, groups: list[AccountGroup], languages: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("All groups")), ("none", _("No group"))] + [(str(g.pk), g.name) for g in groups]
        self.fields["language"].choices = [("", _("All languages"))] + [(code, code) for code in languages]

    def apply(self, queryset):
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["q"]:
            queryset = queryset.filter(handle__icontains=data["q"].strip())
        if data["platform"]:
            queryset = queryset.filter(platform=data["platform"])
        if data["group"] == "none":
            queryset = queryset.filter(group__isnull=True)
        elif data["group"]:
            queryset = queryset.filter(group_id=int(data["group"]))
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["language"]:
            queryset = queryset.filter(language=data["language"])
        return queryset


class ExportForm(forms.Form):
    """The posts list's Export: a range of the member's days and a file format (stats.exports)."""

    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    format = forms.ChoiceField(
        label=_("Format"), choices=[("csv", _("CSV (Excel)")), ("json", "JSON")], initial="csv", widget=forms.Select
    )

    @classmethod
    def this_month(cls) -> ExportForm:
        today = timezone.localdate()
        return cls(initial={"start": today.replace(day=1), "end": today, "format": EXPORT_FORMATS[0]})

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            try:
                data["period"] = export_range(data["start"].isoformat(), data["end"].isoformat())
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field, messages)
        return data


BULK_ACTIONS = [
    ("enable", _("Enable")),
    ("disable", _("Disable")),
    ("assign_group", _("Assign group")),
    ("assign_proxy", _("Assign proxy")),
    ("check", _("Check now")),
]
# Checks call the platform once per account while the operator waits.
MAX_BULK_CHECKS = 50


class UUIDListField(forms.Field):
    """Repeated ``name=<uuid>`` values (checkboxes) as a list of UUIDs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[uuid.UUID]:
        try:
            return [uuid.UUID(str(item)) for item in value or []]
        except ValueError:
            raise ValidationError(_("Select accounts from the list."), code="invalid") from None

    def validate(self, value) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


class BulkAccountsForm(forms.Form):
    ids = UUIDListField(label=_("Accounts"), error_messages={"required": _("Select at least one account.")})
    action = forms.ChoiceField(label=_("Action"), choices=BULK_ACTIONS)
    group = forms.ChoiceField(label=_("Group"), required=False)
    proxy = forms.ChoiceField(label=_("Proxy"), required=False)

    def __init__(self, *args, groups: list[AccountGroup], proxies: list[Proxy], **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = {str(g.pk): g for g in groups}
        self.proxies = {str(p.pk): p for p in proxies}
        self.fields["group"].choices = [("", "—"), ("none", _("Remove from group"))] + [
            (key, g.name) for key, g in self.groups.items()
        ]
        self.fields["proxy"].choices = [("", "—"), ("none", _("Remove proxy"))] + [
            (key, p.display_url) for key, p in self.proxies.items()
        ]

    def clean(self) -> dict:
        data = super().clean()
        action = data.get("action")
        if action == "assign_group" and not data.get("group"):
            self.add_error("group", _("Choose the group to assign (or Remove from group)."))
        if action == "assign_proxy" and not data.get("proxy"):
            self.add_error("proxy", _("Choose the proxy to assign (or Remove proxy)."))
        if action == "check" and len(data.get("ids") or []) > MAX_BULK_CHECKS:
            self.add_error("ids", _("Check at most %(max)d accounts at a time.") % {"max": MAX_BULK_CHECKS})
        return data

    @property
    def chosen_group(self) -> AccountGroup | None:
        return self.groups.get(self.cleaned_data.get("group") or "")

    @property
    def chosen_proxy(self) -> Proxy | None:
        return self.proxies.get(self.cleaned_data.get("proxy") or "")


class ImportAccountsForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    skip_invalid = forms.BooleanField(label=_("Import the valid rows and skip the bad ones"), required=False)
    create_groups = forms.BooleanField(label=_("Create missing groups"), required=False)
    dry_run = forms.BooleanField(label=_("Dry run (check only, write nothing)"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {"workspace": WorkspaceField(user, Role.ADMIN), **self.fields}


class ProxyImportForm(forms.Form):
    text = forms.CharField(
        label=_("Proxy URLs"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "http://user:pass@203.0.113.5:8080"}),
        help_text=_("One URL per line; lines starting with # are ignored."),
    )
    country = forms.CharField(label=_("Country"), max_length=2, required=False, help_text=_("ISO code, e.g. DE."))
    max_accounts = forms.IntegerField(label=_("Accounts per proxy"), min_value=1, initial=1)
    skip_invalid = forms.BooleanField(label=_("Import the valid lines and skip the bad ones"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields = {"workspace": WorkspaceField(user, Role.ADMIN), **self.fields}


# --- sources -------------------------------------------------------------------------------------------


class SourceForm(forms.Form):
    """A source: a Telegram channel (chat id and bot token) or a watched kind (options, the account
    it is read through, repost rules, poll interval). The bot token is write-only: never rendered
    back, and left empty on edit it keeps the stored one. The kind is chosen on creation.
    ``Source.clean`` (via ``source_save``) has the last word."""

    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=SourceKind.choices, required=False, initial=SourceKind.TELEGRAM)
    chat_id = forms.CharField(
        label=_("Channel chat id"),
        max_length=24,
        required=False,
        help_text=_("The channel's numeric id, like -1001234567890. The bot must be an administrator of the channel."),
    )
    options = forms.JSONField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('A watched source\'s options as JSON; RSS/Atom: {"url": "https://example.com/feed.xml"}.'),
    )
    account = forms.ModelChoiceField(
        label=_("Read through account"),
        queryset=SocialAccount.objects.none(),
        required=False,
        help_text=_("VK wall, YouTube and Instagram sources are read through one of your accounts (and its proxy)."),
    )
    rules = forms.JSONField(
        label=_("Repost rules"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('JSON, e.g. {"include": ["sale"], "min_length": 40, "template": "{text}\\n{link}", "daily_cap": 10}.'),
    )
    poll_interval_s = forms.IntegerField(
        label=_("Poll interval, s"), required=False, min_value=60, initial=300, help_text=_("At least 60 seconds.")
    )
    bot_token = forms.CharField(
        label=_("Bot token"),
        required=False,
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    language = forms.CharField(
        label=_("Language"), max_length=10, initial="en", help_text=_("The language the channel writes in, e.g. ru.")
    )
    target_groups = GroupChoiceField(
        label=_("Target groups"), queryset=AccountGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    target_accounts = AccountChoiceField(
        label=_("Target accounts"),
        queryset=SocialAccount.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=IngestMode.choices, initial=IngestMode.DRAFT)
    caption_mode = forms.ChoiceField(label=_("Caption mode"), choices=CaptionMode.choices, initial=CaptionMode.ORIGINAL)
    caption_template = forms.CharField(label=_("Caption template"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    window_start = forms.TimeField(
        label=_("Publish from"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    window_end = forms.TimeField(
        label=_("Publish until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("The schedule window, in the workspace's time zone: both ends or neither."),
    )

    MODEL_FIELDS = (
        "name",
        "language",
        "mode",
        "caption_mode",
        "caption_template",
        "priority",
        "window_start",
        "window_end",
    )

    def __init__(self, *args, user, source: Source | None = None, **kwargs):
        if source is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{name: getattr(source, name) for name in self.MODEL_FIELDS},
                "kind": source.kind,
                "chat_id": (source.options or {}).get("chat_id", "") if not source.watched else "",
                "options": source.options if source.watched else None,
                "account": source.account_id,
                "rules": source.rules or None,
                "poll_interval_s": source.poll_interval_s,
                "target_groups": [g.pk for g in source.target_groups.all()],
                "target_accounts": [a.pk for a in source.target_accounts.all()],
            }
        super().__init__(*args, **kwargs)
        self.source = source
        self.fields = {"workspace": WorkspaceField(user, Role.ADMIN), **self.fields}
        if source is not None:
            self.fields["workspace"].disabled = True
            self.fields["workspace"].initial = source.workspace_id
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = source.kind
            self.fields["bot_token"].help_text = _("Write-only: leave it empty to keep the stored token.")
        else:
            self.fields["bot_token"].help_text = _("From @BotFather. Stored encrypted and never shown again.")
        self.fields["account"].queryset = (
            scope(SocialAccount.objects.all(), user, Role.ADMIN).select_related("workspace").order_by("platform", "handle", "pk")
        )
        self.fields["target_groups"].queryset = scope(AccountGroup.objects.all(), user, Role.ADMIN).order_by("name", "pk")
        self.fields["target_accounts"].queryset = (
            scope(SocialAccount.objects.all(), user, Role.ADMIN)
            .only("id", "workspace_id", "platform", "handle", "language")
            .order_by("platform", "handle", "pk")
        )

    def clean_kind(self) -> str:
        if self.source is not None:
            return self.source.kind
        return self.cleaned_data.get("kind") or SourceKind.TELEGRAM

    def clean_chat_id(self) -> str:
        chat_id = self.cleaned_data["chat_id"].strip()
        if self.cleaned_data.get("kind", SourceKind.TELEGRAM) != SourceKind.TELEGRAM:
            return chat_id
        if options_errors(SourceKind.TELEGRAM, {"chat_id": chat_id}):
            raise ValidationError(
                _("%(value)s is not a chat id: give the channel's numeric id, like -1001234567890."),
                params={"value": chat_id},
                code="invalid",
            )
        return chat_id

    def clean_language(self) -> str:
        return language_code(self.cleaned_data["language"])

    def clean(self) -> dict:
        """``Source.clean`` on the values given, so every mistake (the schedule window's too) is
        shown at once, each next to its field; ``source_save`` checks again when saving."""
        data = super().clean()
        kind = data.get("kind") or SourceKind.TELEGRAM
        telegram = kind == SourceKind.TELEGRAM
        if telegram and self.source is None and not data.get("bot_token") and "bot_token" not in self.errors:
            self.add_error("bot_token", _("Give the bot's token."))
        workspace = data.get("workspace") or (self.source.workspace if self.source is not None else None)
        probe = Source(
            kind=kind,
            workspace_id=workspace.pk if workspace is not None else None,
            options={"chat_id": data.get("chat_id", "")} if telegram else (data.get("options") or {}),
            account=data.get("account"),
            rules=data.get("rules") or {},
            language=data.get("language") or "",
            window_start=data.get("window_start"),
            window_end=data.get("window_end"),
        )
        try:
            probe.clean()
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                field = "chat_id" if field == "options" and telegram else field
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)
        return data

    def apply(self, source: Source) -> Source:
        """``source`` with the form's values set (not saved: ``source_save`` checks and saves it)."""
        data = self.cleaned_data
        for name in self.MODEL_FIELDS:
            setattr(source, name, data[name])
        source.kind = data["kind"]
        if source.kind == SourceKind.TELEGRAM:
            source.options = {**(source.options or {}), "chat_id": data["chat_id"]}
        else:
            source.options = data.get("options") or {}
            source.account = data.get("account")
            source.rules = data.get("rules") or {}
            source.poll_interval_s = data.get("poll_interval_s") or source.poll_interval_s
        return source


# --- activity ------------------------------------------------------------------------------------------


class ActivityFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    account = forms.CharField(label=_("Account"), required=False, widget=forms.TextInput(attrs={"type": "search"}))
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actions: list[str], statuses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions"))] + [(a, action_label(a)) for a in actions]
        self.fields["status"].choices = [("", _("All statuses")), *statuses]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def apply(self, queryset):
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["action"]:
            queryset = queryset.filter(action=data["action"])
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["account"]:
            value = data["account"].strip()
            try:
                queryset = queryset.filter(account_id=uuid.UUID(value))
            except ValueError:
                queryset = queryset.filter(account__handle__icontains=value)
        zone = timezone.get_current_timezone()
        if data["date_from"]:
            queryset = queryset.filter(created_at__gte=_midnight(data["date_from"], zone))
        if data["date_to"]:
            queryset = queryset.filter(created_at__lt=_midnight(data["date_to"] + timedelta(days=1), zone))
        return queryset


def _midnight(day, zone) -> datetime:
    # Local midnight; on the rare day it falls in a DST gap, fold=0 takes the earlier offset.
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=zone)


class RepeatForm(forms.Form):
    """A post's repetition rule: every N days, or every N weeks on weekdays, from a first
    occurrence (read in the member's time zone), until a day or for a number of times."""

    frequency = forms.ChoiceField(label=_("Repeats"), choices=Frequency.choices, initial=Frequency.WEEKLY)
    interval = forms.IntegerField(label=_("Every"), min_value=1, max_value=MAX_INTERVAL, initial=1)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On"),
        choices=Weekday.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Weekly only; none ticked: the weekday of the first occurrence."),
    )
    date = forms.DateField(label=_("First occurrence"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_("At"), widget=forms.TimeInput(attrs={"type": "time"}))
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text=_("Last day, inclusive.")
    )
    count = forms.IntegerField(label=_("Times"), required=False, min_value=1, help_text=_("Empty: no limit."))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date") and data.get("time"):
            try:
                data["starts_at"] = aware_local(data["date"], data["time"], timezone.get_current_timezone())
            except ValidationError as exc:
                self.add_error("time", exc)
        return data

    @staticmethod
    def initial_from(rule, post: Post) -> dict:
        if rule is not None:
            start = timezone.localtime(rule.starts_at)
            return {
                "frequency": rule.frequency,
                "interval": rule.interval,
                "weekdays": rule.weekdays,
                "date": start.date(),
                "time": start.time().replace(second=0, microsecond=0),
                "until": rule.until,
                "count": rule.count,
            }
        start = timezone.localtime(post.scheduled_at or timezone.now()) + timedelta(days=1)
        return {"date": start.date(), "time": start.time().replace(second=0, microsecond=0)}
