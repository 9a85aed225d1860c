"""Admin for the bot's links and link codes.

A TelegramLink belongs to a user, not to a workspace: a workspace admin (or owner) sees and manages
the links of the members of their workspaces, a superuser every link. Links are only made by
``/start <code>`` in the bot; here they can be unlinked (through bot.services.unlink, which logs it)
and their language, notifications and default groups changed. Link codes are read-only: only their
hashes exist, so nothing here could show a usable code — except a new one, made for a member with
"Make a link code…" and shown once, in a message."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import role_allows_somewhere
from accounts.models import AccountGroup, Membership, Role
from accounts.selectors import workspaces_for

from .models import LinkCode, TelegramLink
from .services import bot_username, deep_link, link_code_create, unlink

User = get_user_model()


def managed_users(request) -> QuerySet:
    """The users whose links ``request.user`` manages: members of a workspace where they are an
    admin or owner (superusers: everyone)."""
    if request.user.is_superuser:
        return User.objects.all()
    members = Membership.objects.filter(workspace__in=workspaces_for(request.user, Role.ADMIN).values("pk"))
    return User.objects.filter(pk__in=members.values("user"))


class MemberScopedAdmin(admin.ModelAdmin):
    """Rows owned by a user (``user`` field), shown to whoever manages that user."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user__in=managed_users(request).values("pk"))

    def _manages(self, request, obj) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        if obj is None:
            return role_allows_somewhere(request, Role.ADMIN)
        return request.user.is_superuser or managed_users(request).filter(pk=obj.user_id).exists()

    def has_module_permission(self, request):
        return self._manages(request, None)

    def has_view_permission(self, request, obj=None):
        return self._manages(request, obj)


@admin.register(TelegramLink)
class TelegramLinkAdmin(MemberScopedAdmin):
    list_display = ("user", "telegram_account", "language", "linked_at")
    list_filter = ("language",)
    search_fields = ("user__username", "user__email", "username", "telegram_user_id")
    readonly_fields = ("user", "telegram_user_id", "chat_id", "username", "linked_at")
    fields = ("user", "username", "telegram_user_id", "chat_id", "linked_at", "language", "notify", "default_groups")
    filter_horizontal = ("default_groups",)
    actions = ["unlink_selected"]

    def has_add_permission(self, request):
        return False  # a link is made by the member, with /start <code> in the bot

    def has_change_permission(self, request, obj=None):
        return self._manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._manages(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # unlink_selected goes through the service (activity log)
        return actions

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "default_groups" in form.base_fields and obj is not None:
            # The member's own groups only, and only in workspaces the editing admin manages.
            groups = AccountGroup.objects.filter(workspace__memberships__user=obj.user)
            if not request.user.is_superuser:
                groups = groups.filter(workspace__in=workspaces_for(request.user, Role.ADMIN).values("pk"))
            form.base_fields["default_groups"].queryset = groups.select_related("workspace").order_by("workspace__name", "name")
        return form

    @admin.display(description=_("Telegram account"), ordering="username")
    def telegram_account(self, obj):
        return format_html("@{} · {}", obj.username, obj.telegram_user_id) if obj.username else obj.telegram_user_id

    @admin.action(description=_("Unlink the selected Telegram accounts"))
    def unlink_selected(self, request, queryset):
        links = [link for link in queryset.select_related("user") if self._manages(request, link)]
        for link in links:
            unlink(link=link, actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)s Telegram account unlinked.", "%(count)s Telegram accounts unlinked.", len(links))
            % {"count": len(links)},
            messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        unlink(link=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for link in queryset.select_related("user"):
            unlink(link=link, actor=request.user)


class LinkCodeForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Member"), queryset=User.objects.none())


@admin.register(LinkCode)
class LinkCodeAdmin(MemberScopedAdmin):
    list_display = ("user", "state", "created_at", "expires_at", "used_at")
    list_filter = ("used_at",)
    search_fields = ("user__username", "user__email")
    fields = ("user", "created_at", "expires_at", "used_at")
    readonly_fields = fields
    change_list_template = "admin/bot/linkcode/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.used_at:
            return gettext("used")
        return gettext("expired") if obj.expires_at <= timezone.now() else gettext("waiting")

    def get_urls(self):
        from django.urls import path

        return [path("make/", self.admin_site.admin_view(self.make_view), name="bot_linkcode_make"), *super().get_urls()]

    def make_view(self, request):
        """Make a link code for a member the admin picks; it is shown once, in a message."""
        if not self._manages(request, None):
            raise PermissionDenied
        form = LinkCodeForm(request.POST or None)
        form.fields["user"].queryset = managed_users(request).filter(is_active=True).order_by("username")
        if request.method == "POST" and form.is_valid():
            user = form.cleaned_data["user"]
            code, row = link_code_create(user=user, actor=request.user)
            username = bot_username()
            how = (
                gettext("Give %(user)s this link: %(link)s") % {"user": user.get_username(), "link": deep_link(code, username)}
                if username
                else gettext("%(user)s sends the bot: /start %(code)s") % {"user": user.get_username(), "code": code}
            )
            self.message_user(
                request,
                gettext("Link code for %(user)s: %(code)s (shown only now; valid until %(until)s, once). %(how)s")
                % {
                    "user": user.get_username(),
                    "code": code,
                    "until": timezone.localtime(row.expires_at).strftime("%H:%M"),
                    "how": how,
                },
                messages.SUCCESS,
            )
            return redirect("admin:bot_linkcode_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Make a link code"),
            "form": form,
        }
        return TemplateResponse(request, "admin/bot/linkcode/make.html", context)
