"""Dashboard forms for campaigns: they parse what a person typed and explain; campaigns.services
checks the brief (its messages land next to the fields they name)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from accounts.selectors import workspaces_for

from .models import CampaignStatus
from .runner import STAGES
from .services import MAX_BASE_KEYWORDS


class CampaignFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=120)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *CampaignStatus.choices])


class CampaignForm(forms.Form):
    """The brief. Lists are typed one per line (keywords, minus-words) or as comma-separated ids
    (regions, which the region search fills in)."""

    workspace = forms.ModelChoiceField(label=_("Workspace"), queryset=None, empty_label=None, required=False)
    name = forms.CharField(label=_("Name"), max_length=120)
    product_description = forms.CharField(
        label=_("Product description"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What is advertised and why people buy it: the ads are written from this."),
    )
    target_url = forms.CharField(
        label=_("Target URL"), max_length=1024, help_text=_("The landing page, e.g. https://shop.example/linen.")
    )
    base_keywords = forms.CharField(
        label=_("Base keywords"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line, 1 to %(most)s.") % {"most": MAX_BASE_KEYWORDS},
    )
    regions = forms.CharField(
        label=_("Regions"),
        required=False,
        help_text=_("Yandex region ids separated by commas (search by name below); empty: everywhere."),
    )
    budget = forms.CharField(label=_("Budget"), required=False, max_length=20)
    minus_words = forms.CharField(
        label=_("Minus words"), required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=_("One per line.")
    )
    ads_per_cluster = forms.IntegerField(label=_("Ads per cluster"), min_value=1, max_value=5, initial=2)

    def __init__(self, *args, user, campaign=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = workspaces_for(user, Role.EDITOR).order_by("name", "pk")
        if campaign is not None:  # a campaign keeps its workspace
            del self.fields["workspace"]
        elif self.fields["workspace"].queryset.count() == 1:
            self.fields["workspace"].widget = forms.HiddenInput()
            self.fields["workspace"].initial = self.fields["workspace"].queryset.first().pk

    def clean_workspace(self):
        # With one workspace there is nothing to choose: an empty value means that one.
        workspace = self.cleaned_data.get("workspace")
        choices = list(self.fields["workspace"].queryset[:2])
        if workspace is None and len(choices) == 1:
            return choices[0]
        if workspace is None:
            raise forms.ValidationError(_("Choose the workspace."), code="required")
        return workspace

    @classmethod
    def initial_from(cls, campaign) -> dict:
        return {
            "name": campaign.name,
            "product_description": campaign.product_description,
            "target_url": campaign.target_url,
            "base_keywords": "\n".join(campaign.base_keywords),
            "regions": ", ".join(str(region) for region in campaign.regions),
            "budget": "" if campaign.budget is None else str(campaign.budget),
            "minus_words": "\n".join(campaign.minus_words),
            "ads_per_cluster": campaign.ads_per_cluster,
        }

    def brief(self) -> dict:
        """The fields for campaign_create / campaign_update (the service parses the lists)."""
        data = dict(self.cleaned_data)
        data.pop("workspace", None)
        return data


class RunForm(forms.Form):
    stage = forms.ChoiceField(required=False, choices=[("", "")] + [(stage, stage) for stage in STAGES])


class AdForm(forms.Form):
    title1 = forms.CharField(label=_("Title 1"), max_length=200)
    title2 = forms.CharField(label=_("Title 2"), max_length=200, required=False)
    text = forms.CharField(label=_("Text"), max_length=400, widget=forms.Textarea(attrs={"rows": 2}))
    display_path = forms.CharField(label=_("Display path"), max_length=100, required=False)


class CampaignSettingsForm(forms.Form):
    """Secrets are write-only: never rendered back; left empty they keep what is stored."""

    wordstat_token = forms.CharField(
        label=_("Wordstat OAuth token"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored token."),
    )
    remove_wordstat_token = forms.BooleanField(label=_("Remove the stored Wordstat token"), required=False)
    google_service_account = forms.CharField(
        label=_("Google service account key (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Paste the whole key file; leave empty to keep the stored key."),
    )
    remove_google_service_account = forms.BooleanField(label=_("Remove the stored Google key"), required=False)
    share_with = forms.EmailField(label=_("Share sheets with"), required=False, help_text=_("Default: the author's email."))

    def changes(self) -> dict:
        data = self.cleaned_data
        changes = {"share_with": data["share_with"]}
        if data["remove_wordstat_token"]:
            changes["wordstat_token"] = ""
        elif data["wordstat_token"]:
            changes["wordstat_token"] = data["wordstat_token"]
        if data["remove_google_service_account"]:
            changes["google_service_account"] = {}
        elif data["google_service_account"].strip():
            changes["google_service_account"] = data["google_service_account"]
        return changes
