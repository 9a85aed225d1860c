"""Dashboard forms for the video studio: they parse what a person typed and explain; studio.services
checks everything that matters (a template's pattern and placeholders, a preset's targets and the
platform's limits, a source's options and credentials) and its messages land next to the fields
they name.

A source's options are simple fields per kind (``OPTION_FIELDS``) and its credentials are
write-only: never rendered back; left empty they keep what is stored."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountGroup, Role, SocialAccount
from accounts.selectors import workspaces_for

from .models import InputKind, InputSource, OutputPreset, PublishMode, RecordingStatus, SubtitleMode, Template
from .runner import STEPS, UNTIL
from .services import PRESET_PLATFORMS, TEMPLATE_FIELDS

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class WorkspaceFormMixin:
    """A ``workspace`` field over the member's workspaces where they have ``role``; hidden when there
    is one, removed when the object already has its workspace."""

    role = Role.EDITOR

    def setup_workspace(self, user, instance) -> None:
        workspaces = workspaces_for(user, self.role).order_by("name", "pk")
        self.fields["workspace"].queryset = workspaces
        self.workspace_ids = list(workspaces.values_list("pk", flat=True))
        if instance is not None and instance.pk:
            del self.fields["workspace"]
            self.workspace_ids = [instance.workspace_id]
        elif len(self.workspace_ids) == 1:
            self.fields["workspace"].widget = forms.HiddenInput()
            self.fields["workspace"].initial = self.workspace_ids[0]

    def clean_workspace(self):
        workspace = self.cleaned_data.get("workspace")
        choices = list(self.fields["workspace"].queryset[:2])
        if workspace is None and len(choices) == 1:
            return choices[0]
        if workspace is None:
            raise forms.ValidationError(_("Choose the workspace."), code="required")
        return workspace


# --- recordings -----------------------------------------------------------------------------------


class RecordingFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=120)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *RecordingStatus.choices])
    source = forms.ModelChoiceField(label=_("Source"), required=False, queryset=None, empty_label=_("Any source"))
    template = forms.ModelChoiceField(label=_("Template"), required=False, queryset=None, empty_label=_("Any template"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        ids = workspaces_for(user).values_list("pk", flat=True)
        self.fields["source"].queryset = InputSource.objects.filter(workspace_id__in=ids).order_by("name", "pk")
        self.fields["template"].queryset = Template.objects.filter(workspace_id__in=ids).order_by("name", "pk")


class ImportForm(WorkspaceFormMixin, forms.Form):
    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=None, empty_label=None, required=False)
    file = forms.FileField(label=_("Video or audio file"), required=False)
    url = forms.URLField(
        label=_("…or its address"),
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text=_("An http(s) link to the file; it is downloaded when the recording is processed."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_workspace(user, None)

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool(data.get("url")):
            raise forms.ValidationError(_("Choose a file or give an address (one of them)."))
        return data


class RunForm(forms.Form):
    action = forms.ChoiceField(choices=[(name, name) for name in UNTIL])
    from_step = forms.ChoiceField(required=False, choices=[("", "")] + [(step, step) for step in STEPS])


class BatchForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        values = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(value, value) for value in values if str(value).isdigit()][:100]
        self.fields["ids"].error_messages["required"] = _("Select the recordings to run first.")


class ChooseTemplateForm(forms.Form):
    template = forms.ModelChoiceField(label=_("Template"), queryset=None, required=False, empty_label=_("No template"))

    def __init__(self, *args, recording, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = Template.objects.filter(workspace_id=recording.workspace_id).order_by(
            "-priority", "pk"
        )
        self.fields["template"].initial = recording.template_id


# --- templates ------------------------------------------------------------------------------------


class TemplateForm(WorkspaceFormMixin, forms.ModelForm):
    """The service (template_save) checks the rules; this form only parses."""

    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=None, empty_label=None, required=False)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        coerce=int,
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any day."),
    )
    presets = forms.ModelMultipleChoiceField(
        label=_("Output presets"),
        queryset=None,
        required=False,
        help_text=_("Where the finished recordings go (one post per preset)."),
    )

    class Meta:
        model = Template
        fields = [*TEMPLATE_FIELDS, "presets"]
        widgets = {
            "time_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "time_until": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "description_template": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_workspace(user, self.instance)
        self.fields["source"].queryset = InputSource.objects.filter(workspace_id__in=self.workspace_ids).order_by("name")
        self.fields["presets"].queryset = OutputPreset.objects.filter(workspace_id__in=self.workspace_ids).order_by("name")
        self.fields["subtitles"].choices = SubtitleMode.choices
        if self.instance.pk:
            self.initial["weekdays"] = list(self.instance.weekdays or [])

    def _post_clean(self):
        # The service validates the model (with its workspace); the form does not half-build it.
        pass

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("workspace", None)
        data["weekdays"] = list(data.get("weekdays") or [])
        return data


# --- presets --------------------------------------------------------------------------------------


class AccountSelect(forms.SelectMultiple):
    """Each account's option says its platform (studio.js lists only the chosen platform's)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        account = getattr(value, "instance", None)
        if account is not None:
            option["attrs"]["data-platform"] = account.platform
        return option


class PresetForm(WorkspaceFormMixin, forms.Form):
    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=None, empty_label=None, required=False)
    name = forms.CharField(label=_("Name"), max_length=120)
    platform = forms.ChoiceField(label=_("Platform"))
    accounts = forms.ModelMultipleChoiceField(
        label=_("Accounts"),
        queryset=None,
        required=False,
        widget=AccountSelect,
        help_text=_("Accounts of the preset's platform (or a group below)."),
    )
    group = forms.ModelChoiceField(label=_("Group"), queryset=None, required=False)
    privacy = forms.CharField(
        label=_("Privacy"), max_length=20, required=False, help_text=_("e.g. public, unlisted, private; empty: default.")
    )
    category = forms.CharField(label=_("Category"), max_length=40, required=False)
    playlist = forms.CharField(
        label=_("Playlist / album"), max_length=120, required=False, help_text=_("YouTube playlist ID or VK album ID.")
    )
    tags = forms.CharField(label=_("Tags"), max_length=1000, required=False, help_text=_("Separated by commas."))
    title_template = forms.CharField(
        label=_("Title template"), max_length=300, required=False, help_text=_("Empty: the template's.")
    )
    description_template = forms.CharField(
        label=_("Description template"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Empty: the template's."),
    )
    publish_mode = forms.ChoiceField(label=_("Publish mode"), choices=PublishMode.choices, initial=PublishMode.DRAFT)

    def __init__(self, *args, user, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.setup_workspace(user, instance)
        self.fields["platform"].choices = [(p, p) for p in PRESET_PLATFORMS]
        accounts = SocialAccount.objects.filter(workspace_id__in=self.workspace_ids).order_by("platform", "pk")
        self.fields["accounts"].queryset = accounts
        self.fields["accounts"].label_from_instance = lambda a: f"{a} ({a.platform})"
        self.fields["group"].queryset = AccountGroup.objects.filter(workspace_id__in=self.workspace_ids).order_by("name")

    @classmethod
    def initial_from(cls, preset: OutputPreset) -> dict:
        return {
            "name": preset.name,
            "platform": preset.platform,
            "accounts": list(preset.accounts.values_list("pk", flat=True)),
            "group": preset.group_id,
            "privacy": preset.privacy,
            "category": preset.category,
            "playlist": preset.playlist,
            "tags": ", ".join(preset.tags or []),
            "title_template": preset.title_template,
            "description_template": preset.description_template,
            "publish_mode": preset.publish_mode,
        }

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("workspace", None)
        data["accounts"] = list(data.get("accounts") or [])
        return data


# --- input sources --------------------------------------------------------------------------------

# Form field → (kind, option name); the credentials → (kind, secret name).
OPTION_FIELDS = {
    "zoom_user_id": (InputKind.ZOOM, "user_id"),
    "zoom_lookback_days": (InputKind.ZOOM, "lookback_days"),
    "zoom_file_types": (InputKind.ZOOM, "file_types"),
    "zoom_delete_after_download": (InputKind.ZOOM, "delete_after_download"),
    "yandex_path": (InputKind.YANDEX_DISK, "path"),
    "yandex_extensions": (InputKind.YANDEX_DISK, "extensions"),
    "folder_path": (InputKind.FOLDER, "path"),
    "folder_pattern": (InputKind.FOLDER, "pattern"),
}
SECRET_FIELDS = {
    "zoom_account_id": (InputKind.ZOOM, "account_id"),
    "zoom_client_id": (InputKind.ZOOM, "client_id"),
    "zoom_client_secret": (InputKind.ZOOM, "client_secret"),
    "yandex_token": (InputKind.YANDEX_DISK, "token"),
}


def _secret_field(label):
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave blank to keep the stored value."),
    )


class SourceForm(WorkspaceFormMixin, forms.Form):
    role = Role.ADMIN

    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=None, empty_label=None, required=False)
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=InputKind.choices)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    sync_interval_s = forms.IntegerField(label=_("Sync every (seconds)"), min_value=60, initial=900)
    # Zoom
    zoom_user_id = forms.CharField(
        label=_("Zoom user"), required=False, max_length=120, help_text=_("A user's id or email; “me”: the app's owner.")
    )
    zoom_lookback_days = forms.IntegerField(label=_("Look back (days)"), required=False, min_value=1, max_value=180, initial=7)
    zoom_file_types = forms.CharField(
        label=_("File types"), required=False, max_length=40, initial="MP4", help_text=_("MP4 and/or M4A, comma-separated.")
    )
    zoom_delete_after_download = forms.BooleanField(label=_("Delete from Zoom after download"), required=False)
    zoom_account_id = _secret_field(_("Zoom account ID"))
    zoom_client_id = _secret_field(_("Zoom client ID"))
    zoom_client_secret = _secret_field(_("Zoom client secret"))
    # Yandex Disk
    yandex_path = forms.CharField(
        label=_("Folder on the Disk"), required=False, max_length=500, help_text=_("e.g. disk:/Video/Zoom")
    )
    yandex_extensions = forms.CharField(
        label=_("File extensions"), required=False, max_length=200, help_text=_("Comma-separated; empty: common video types.")
    )
    yandex_token = _secret_field(_("Yandex OAuth token"))
    # Folder
    folder_path = forms.CharField(
        label=_("Folder path"), required=False, max_length=500, help_text=_("An absolute path inside the allowed roots.")
    )
    folder_pattern = forms.CharField(
        label=_("File name pattern"), required=False, max_length=200, initial="*.mp4", help_text=_("e.g. *.mp4,*.mov")
    )

    def __init__(self, *args, user, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.setup_workspace(user, instance)

    @classmethod
    def initial_from(cls, source: InputSource) -> dict:
        initial = {
            "name": source.name,
            "kind": source.kind,
            "enabled": source.enabled,
            "sync_interval_s": source.sync_interval_s,
        }
        options = source.options or {}
        for field, (kind, option) in OPTION_FIELDS.items():
            if kind == source.kind and option in options:
                value = options[option]
                initial[field] = ", ".join(map(str, value)) if isinstance(value, list) else value
        return initial

    def options(self) -> dict:
        kind = self.cleaned_data["kind"]
        found = {}
        for field, (field_kind, option) in OPTION_FIELDS.items():
            value = self.cleaned_data.get(field)
            if field_kind == kind and value not in (None, ""):
                found[option] = value
        if kind == InputKind.ZOOM:
            found["delete_after_download"] = bool(self.cleaned_data.get("zoom_delete_after_download"))
        return found

    def secret(self) -> dict:
        kind = self.cleaned_data["kind"]
        return {
            name: self.cleaned_data[field]
            for field, (field_kind, name) in SECRET_FIELDS.items()
            if field_kind == kind and self.cleaned_data.get(field)
        }

    def field_for(self, key: str) -> str | None:
        """The field a service error about ``options``/``secret`` belongs next to (the kind's first)."""
        kind = self.cleaned_data.get("kind") or self.data.get("kind")
        table = OPTION_FIELDS if key == "options" else SECRET_FIELDS
        return next((field for field, (field_kind, _name) in table.items() if field_kind == kind), None)
