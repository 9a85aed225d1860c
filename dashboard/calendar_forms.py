"""Forms of the calendar and the queue slots: the calendar's filters (bad values fall back to the
defaults, never an error page), a drop onto a day or an hour, and adding weekly slots."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountGroup, Platform, SocialAccount, Workspace
from planning.models import Weekday
from posts.models import PostStatus

from .calendar_selectors import VIEWS, Filters


class CalendarFilterForm(forms.Form):
    workspace = forms.ChoiceField(label=_("Workspace"), required=False)
    view = forms.ChoiceField(
        label=_("View"), required=False, choices=[("month", _("Month")), ("week", _("Week"))], initial="month"
    )
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(label=_("Group"), required=False)
    platform = forms.ChoiceField(label=_("Platform"), required=False, choices=[("", _("All platforms")), *Platform.choices])
    account = forms.ChoiceField(label=_("Account"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All statuses")), *PostStatus.choices])

    def __init__(self, *args, workspaces: list[Workspace], **kwargs):
        super().__init__(*args, **kwargs)
        self.workspaces = {str(w.pk): w for w in workspaces}
        self.fields["workspace"].choices = [(pk, w.name) for pk, w in self.workspaces.items()]
        chosen = self.workspaces.get(str(self.data.get("workspace", ""))) or next(iter(self.workspaces.values()), None)
        self.workspace = chosen
        groups = list(AccountGroup.objects.filter(workspace=chosen).order_by("name", "pk")) if chosen else []
        accounts = (
            list(SocialAccount.objects.filter(workspace=chosen).only("pk", "handle", "platform").order_by("handle", "pk")[:500])
            if chosen
            else []
        )
        self.groups = {str(g.pk): g for g in groups}
        self.accounts = {str(a.pk): a for a in accounts}
        self.fields["group"].choices = [("", _("All groups"))] + [(pk, g.name) for pk, g in self.groups.items()]
        self.fields["account"].choices = [("", _("All accounts"))] + [
            (pk, f"{a.handle} · {a.get_platform_display()}") for pk, a in self.accounts.items()
        ]

    def _value(self, name: str, default=""):
        """The field's valid value, else its default: a bad filter shows the unfiltered calendar."""
        if self.is_bound and name not in self.errors:
            value = self.cleaned_data.get(name)
            return default if value in (None, "") else value
        return default

    @property
    def chosen_view(self) -> str:
        value = self._value("view", "month")
        return value if value in VIEWS else "month"

    @property
    def chosen_date(self) -> date:
        return self._value("date", None) or timezone.localdate()

    def filters(self) -> Filters:
        return Filters(
            workspace=self.workspace,
            group=self.groups.get(str(self._value("group"))),
            platform=self._value("platform"),
            account=self.accounts.get(str(self._value("account"))),
            status=self._value("status"),
        )

    def query(self, **changes) -> str:
        """The calendar's query string with ``changes`` (e.g. another date)."""
        values = {
            "workspace": self.workspace.pk if self.workspace else "",
            "view": self.chosen_view,
            "date": self.chosen_date.isoformat(),
            "group": self._value("group"),
            "platform": self._value("platform"),
            "account": self._value("account"),
            "status": self._value("status"),
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


class MoveForm(forms.Form):
    """Where a chip was dropped: a day (month view) or a day and an hour (week view)."""

    date = forms.DateField()
    hour = forms.IntegerField(required=False, min_value=0, max_value=23)


class SlotAddForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=Weekday.choices, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
