"""Admin for posts and their media.

A post's content can be edited while it is a draft or scheduled (posts.services
enforces it); once the planner has created executions, per-account captions are
edited on the executions and the post is only cancelled (publishing.services).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import (
    ReadOnlyInline,
    ScopedRelatedOnlyFieldListFilter,
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    WorkspaceScopedInline,
    change_url,
    excerpt,
    status_badge,
)
from accounts.models import Role
from crosspost.choices import choice_label
from media.admin import asset_thumbnail
from planning.admin import RecurrenceInline
from products.facts import Marketplace
from products.selectors import product_summary
from publishing.admin import remote_link
from publishing.ai_captions import check_caption_edit, post_caption_edit
from publishing.approvals import post_approve, post_reject, post_submit
from publishing.models import Execution, ExecutionStatus, PostCaption
from publishing.pipeline import stage_retry
from publishing.planner import post_publish
from publishing.selectors import outcome_counts
from publishing.services import RESOLVE_PUBLISHED, RESOLVE_RETRY, post_cancel, post_edit, post_resolve_unconfirmed

from .models import MAX_MEDIA_PER_POST, ApprovalStatus, PipelineStage, Post, PostMedia, StageStatus
from .pipeline import duration_display
from .services import (
    DELETABLE_STATUSES,
    EDITABLE_FIELDS,
    check_caption,
    check_caption_mode,
    check_scheduled_at,
    post_create,
    post_delete,
    post_set_media,
)
from .services import EDITABLE_STATUSES as EDITABLE_POST_STATUSES


def _workspace_of(form: forms.ModelForm):
    return form.cleaned_data.get("workspace") or (form.instance.workspace if form.instance.workspace_id else None)


class PostForm(WorkspaceModelForm):
    class Meta:
        model = Post
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        workspace = _workspace_of(self)
        if workspace is None:
            return cleaned
        for name in ("target_groups", "target_accounts"):
            foreign = [str(item) for item in cleaned.get(name) or () if item.workspace_id != workspace.pk]
            if foreign:
                self.add_error(
                    name,
                    _("Not in the post's workspace (%(workspace)s): %(items)s.")
                    % {"workspace": workspace, "items": ", ".join(foreign)},
                )
        # The services' own checks, shown next to the fields instead of failing the save.
        checks = [("caption", check_caption, (cleaned.get("media_type"), cleaned.get("caption") or ""))]
        if "scheduled_at" in self.changed_data:
            checks.append(("scheduled_at", check_scheduled_at, (cleaned.get("scheduled_at"),)))
        if cleaned.get("caption_mode"):
            checks.append(
                ("caption_template", check_caption_mode, (cleaned["caption_mode"], cleaned.get("caption_template") or ""))
            )
        for name, check, args in checks:
            try:
                check(*args)
            except ValidationError as exc:
                self.add_error(name, exc)
        return cleaned


class PostMediaInlineForm(forms.ModelForm):
    def _get_validation_exclusions(self):
        # Positions are only an order here: post_set_media renumbers them 0…n-1 on save,
        # so a swap of two positions must not trip the (post, position) constraint.
        exclude = super()._get_validation_exclusions()
        exclude.add("position")
        return exclude


class PostMediaFormSet(BaseInlineFormSet):
    """Checks what post_set_media would refuse, so it shows on the form instead of failing the save."""

    def kept_assets(self) -> list:
        rows = [
            (form.cleaned_data["position"] or 0, index, form.cleaned_data["asset"])
            for index, form in enumerate(self.forms)
            if getattr(form, "cleaned_data", None) and form.cleaned_data.get("asset") and not form.cleaned_data.get("DELETE")
        ]
        return [asset for *_, asset in sorted(rows, key=lambda row: row[:2])]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        workspace_id = self.instance.workspace_id
        seen = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            asset = data.get("asset")
            if asset is None or data.get("DELETE"):
                continue
            if workspace_id and asset.workspace_id != workspace_id:
                form.add_error("asset", _("This media belongs to another workspace."))
            if asset.pk in seen:
                form.add_error("asset", _("This media is already in the post."))
            seen.add(asset.pk)
        if len(self.kept_assets()) > MAX_MEDIA_PER_POST:
            raise ValidationError(_("A post carries at most %(max)s media.") % {"max": MAX_MEDIA_PER_POST})


class PostMediaInline(WorkspaceScopedInline, admin.TabularInline):
    model = PostMedia
    form = PostMediaInlineForm
    formset = PostMediaFormSet
    add_role = change_role = delete_role = Role.EDITOR
    autocomplete_fields = ("asset",)
    fields = ("position", "asset", "preview")
    readonly_fields = ("preview",)
    extra = 0
    max_num = MAX_MEDIA_PER_POST
    ordering = ("position",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("post", "asset")

    def _allowed(self, request, min_role, obj):
        # A post's media is fixed once it is being published.
        if obj is not None and min_role != self.view_role and obj.status not in EDITABLE_POST_STATUSES:
            return False
        return super()._allowed(request, min_role, obj)

    @admin.display(description=_("preview"))
    def preview(self, obj):
        return asset_thumbnail(obj.asset if obj.asset_id else None)


class PostCaptionInlineForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        if "caption" in self.changed_data:
            try:
                check_caption_edit(self.instance, cleaned.get("caption") or "")
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class PostCaptionFormSet(BaseInlineFormSet):
    def save(self, commit=True):
        # Through the service: checked, marked edited (never written again) and logged.
        user = getattr(self, "request_user", None)
        for form in self.forms:
            if form.instance.pk and "caption" in form.changed_data:
                post_caption_edit(caption=form.instance, text=form.cleaned_data["caption"], actor=user)
        return []


class PostCaptionInline(WorkspaceScopedInline, admin.TabularInline):
    """The post's AI captions (AI caption mode): written by the planner or "Generate captions";
    an editor may rewrite one here, checked against the platform's limit and the workspace's rules."""

    model = PostCaption
    form = PostCaptionInlineForm
    formset = PostCaptionFormSet
    add_role = delete_role = None
    change_role = Role.EDITOR
    fields = ("platform", "language", "caption_status", "caption", "problem", "edited", "generated_at")
    readonly_fields = ("platform", "language", "caption_status", "problem", "edited", "generated_at")
    extra = 0
    can_delete = False
    ordering = ("platform", "language")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("post")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.request_user = request.user
        return formset

    @admin.display(description=_("status"))
    def caption_status(self, obj):
        return obj.get_status_display()


class ExecutionInline(ReadOnlyInline):
    model = Execution
    fields = ("account", "execution_status", "scheduled_for", "attempts", "remote_link", "error_message")
    readonly_fields = fields
    ordering = ("scheduled_for", "id")

    def get_queryset(self, request):
        # Each row's title names the post and the account.
        return super().get_queryset(request).select_related("post", "account")

    @admin.display(description=_("status"))
    def execution_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("link on the platform"))
    def remote_link(self, obj):
        return remote_link(obj)


class PipelineStageInline(ReadOnlyInline):
    """A source post's pipeline, stage by stage; a failed one is retried from the stages list."""

    model = PipelineStage
    fields = ("stage", "stage_status", "started_at", "duration", "attempts", "error", "note")
    readonly_fields = fields
    ordering = ("pk",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("post")

    @admin.display(description=_("status"))
    def stage_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("duration"))
    def duration(self, obj):
        return duration_display(obj.duration) or "—"


class RejectForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Why the posts are rejected: their authors read it to fix them."),
    )


@admin.register(Post)
class PostAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = PostForm
    add_role = change_role = Role.EDITOR
    # Deleting removes the executions' history too: admins only, and never while publishing.
    delete_role = Role.ADMIN
    deletes_with = (PostMedia,)
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("__str__", "post_status", "media_type", "scheduled_at", "progress", "created_at")
    list_display_links = ("__str__",)
    list_filter = (
        "status",
        "approval_status",
        "media_type",
        "priority",
        ("author", ScopedRelatedOnlyFieldListFilter),
        ("workspace", ScopedRelatedOnlyFieldListFilter),
        "scheduled_at",
    )
    search_fields = ("title", "caption")
    list_select_related = ("author",)
    # A filtered list says "N results (Show all)" rather than counting the whole list a second time.
    show_full_result_count = False
    # What the columns read (the title falls back to the caption).
    list_only = (
        *("title", "caption", "status", "approval_status", "media_type", "scheduled_at", "created_at"),
        *("author",),
    )
    # The date drill-down reads the posts table alone (a post's progress is counted for the listed
    # page only, page_aggregates): cheap at a thousand or a hundred thousand posts, unlike
    # executions and the activity log, whose lists have date filters instead.
    date_hierarchy = "created_at"
    autocomplete_fields = ("target_groups", "target_accounts")
    readonly_fields = (
        "status",
        "author",
        "created_at",
        "updated_at",
        "finished_at",
        "product",
        "origin_link",
        "approval_status",
        "approval_comment",
        "approval_by",
        "approval_at",
    )
    fieldsets = (
        (None, {"fields": ("workspace", "title", "caption", "language", "media_type", "product")}),
        (_("Caption mode"), {"fields": ("caption_mode", "caption_template")}),
        (_("Targets"), {"fields": ("target_groups", "target_accounts")}),
        (_("Schedule"), {"fields": ("priority", "scheduled_at")}),
        (_("Per-platform options"), {"fields": ("options",), "classes": ("collapse",)}),
        (_("State"), {"fields": ("status", "author", "created_at", "updated_at", "finished_at", "origin_link")}),
        (_("Approval"), {"fields": ("approval_status", "approval_comment", "approval_by", "approval_at")}),
    )
    inlines = (PostMediaInline, PostCaptionInline, PipelineStageInline, RecurrenceInline, ExecutionInline)
    actions = (
        "publish_posts",
        "preview_plans",
        "submit_posts",
        "approve_posts",
        "reject_posts",
        "cancel_posts",
        "mark_unconfirmed_published",
        "retry_unconfirmed",
    )

    @admin.display(description=_("product"))
    def product(self, obj):
        """The named product's cached facts, or why there are none (never a marketplace call)."""
        summary = product_summary((obj.options or {}).get("product")) if obj is not None else None
        if summary is None:
            return "—"
        name = f"{Marketplace(summary['marketplace']).label} {summary['article']}" if summary["marketplace"] else ""
        facts = summary["facts"]
        if facts:
            price = f"{facts['price']:g} ₽" if facts.get("price") is not None else ""
            detail = " · ".join(part for part in (facts["title"], facts.get("brand", ""), price) if part)
        else:
            detail = summary["note"] or _("not looked up yet")
        return f"{name}: {detail}" if name else detail

    @admin.display(description=_("origin"))
    def origin_link(self, obj):
        """The watched source's item the post was made of: the source, the remote id and its link."""
        origin = getattr(obj, "origin", None) if obj is not None else None  # a missing one-to-one: AttributeError
        if origin is None:
            return "—"
        link = (
            format_html(' <a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', origin.url, origin.url)
            if origin.url
            else ""
        )
        return format_html('<a href="{}">{}</a> · {}{}', change_url(origin.source), origin.source, origin.remote_id, link)

    def annotate_changelist(self, request, queryset):
        counts = outcome_counts("executions__")
        return queryset.annotate(
            n_executions=counts["total"],
            n_success=counts["published"],
            n_failed=counts["failed"],
            n_blocked=counts["blocked"],
            n_unconfirmed=counts["unconfirmed"],
        )

    def page_aggregates(self, request, pks):
        """The progress counts of one page's posts, off the (post, status) index alone: the same
        figures as ``annotate_changelist`` without reading a hundred thousand execution rows."""
        counts = {pk: dict.fromkeys(("n_executions", "n_success", "n_failed", "n_blocked", "n_unconfirmed"), 0) for pk in pks}
        by_status = {
            ExecutionStatus.SUCCESS: "n_success",
            ExecutionStatus.FAILED: "n_failed",
            ExecutionStatus.BLOCKED: "n_blocked",
            ExecutionStatus.UNCONFIRMED: "n_unconfirmed",
        }
        rows = Execution.objects.filter(post_id__in=pks).order_by().values_list("post_id", "status").annotate(n=Count("*"))
        for post_id, status, n in rows:
            counts[post_id]["n_executions"] += n
            if status in by_status:
                counts[post_id][by_status[status]] += n
        return counts

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status not in EDITABLE_POST_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only drafts and finished posts (post_delete refuses the rest: cancel them first).
        if obj is not None and obj.status not in DELETABLE_STATUSES:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("status"), ordering="status")
    def post_status(self, obj):
        """The status, and under it the approval where the workspace asks for one (a column of its
        own would not fit the page in Russian)."""
        if obj.approval_status == ApprovalStatus.NOT_REQUIRED:
            return status_badge(obj)
        return format_html("{}<br><small>{}</small>", status_badge(obj), choice_label(obj, "approval_status"))

    @admin.display(description=_("progress"), ordering="n_success")
    def progress(self, obj):
        if not obj.n_executions:
            return "-"

        def badge(text: str, count: int) -> str:
            return format_html(' <span class="cp-failed">{}</span>', text % {"count": count}) if count else ""

        failed = badge(_("%(count)s failed"), obj.n_failed)
        blocked = badge(_("%(count)s blocked"), obj.n_blocked)
        attention = badge(_("needs attention: %(count)s unconfirmed"), obj.n_unconfirmed)
        return format_html(
            '<span class="cp-progress"><meter min="0" max="{}" value="{}"></meter>{}/{}{}{}{}</span>',
            obj.n_executions,
            obj.n_success,
            obj.n_success,
            obj.n_executions,
            failed,
            blocked,
            attention,
        )

    # -- saving through posts.services

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        targets = {name: form.cleaned_data[name] for name in ("target_groups", "target_accounts") if name in form.cleaned_data}
        if change:
            post_edit(post=obj, actor=request.user, **targets, **fields)
        else:
            created = post_create(workspace=obj.workspace, author=request.user, **targets, **fields)
            vars(obj).update(vars(created))

    def save_related(self, request, form, formsets, change):
        # Targets were set by the service in save_model; media go through post_set_media.
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change):
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if formset.model is PostMedia and formset.has_changed():
            post_set_media(post=form.instance, assets=formset.kept_assets(), actor=request.user)
        elif formset.model is PostCaption:
            formset.save()

    def delete_model(self, request, obj):
        post_delete(post=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for post in queryset:
            try:
                post_delete(post=post, actor=request.user)
            except ValidationError as exc:
                messages.error(request, f"{post}: {' '.join(exc.messages)}")

    @admin.action(description=_("Publish now (plan executions on every target account)"), permissions=["change"])
    def publish_posts(self, request, queryset):
        self._plan(request, queryset, dry_run=False)

    @admin.action(description=_("Preview the plan (dry run, nothing is saved)"), permissions=["change"])
    def preview_plans(self, request, queryset):
        self._plan(request, queryset, dry_run=True)

    def _plan(self, request, queryset, *, dry_run: bool) -> None:
        """Run the planner and report per post: planned, existing, blocked (with the first reasons)."""
        for post in self.writable_or_warn(request, queryset):
            try:
                plan = post_publish(post=post, actor=request.user, dry_run=dry_run)
            except ValidationError as exc:
                self.message_user(request, f"{post}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            summary = plan.as_dict()
            first = min((e.scheduled_for for e in plan.entries if e.scheduled_for), default=None)
            if dry_run:
                text = ngettext(
                    "%(post)s: would plan %(planned)s execution; %(existing)s already existed; %(blocked)s blocked.",
                    "%(post)s: would plan %(planned)s executions; %(existing)s already existed; %(blocked)s blocked.",
                    summary["planned"],
                )
            else:
                text = ngettext(
                    "%(post)s: planned %(planned)s execution; %(existing)s already existed; %(blocked)s blocked.",
                    "%(post)s: planned %(planned)s executions; %(existing)s already existed; %(blocked)s blocked.",
                    summary["planned"],
                )
            if first:
                text += " " + str(_("First at %(first)s."))
            params = {
                **summary,
                "post": post,
                "first": date_format(timezone.localtime(first), "SHORT_DATETIME_FORMAT") if first else "",
            }
            self.message_user(
                request,
                text % params,
                messages.SUCCESS if summary["planned"] or summary["existing"] else messages.WARNING,
            )
            for warning in [w for e in plan.entries for w in e.warnings][:10]:
                self.message_user(request, f"{post}: {warning}", messages.WARNING)
            if plan.approval_required:
                self.message_user(request, f"{post}: {plan.approval_required}", messages.WARNING)
            blocked = [e for e in plan.entries if e.status == "blocked"]
            reasons: dict[str, list[str]] = {}
            for entry in blocked:
                reasons.setdefault("; ".join(entry.problems), []).append(entry.handle)
            for reason, handles in list(reasons.items())[:10]:
                shown = ", ".join(handles[:5])
                if len(handles) > 5:
                    shown = _("%(handles)s and %(count)s more") % {"handles": shown, "count": len(handles) - 5}
                self.message_user(
                    request, _("Blocked (%(handles)s): %(reason)s") % {"handles": shown, "reason": reason}, messages.WARNING
                )

    # -- approvals (publishing.approvals; the service checks who may approve)

    @admin.action(description=_("Submit for approval"), permissions=["change"])
    def submit_posts(self, request, queryset):
        self._approval(request, queryset, lambda post: post_submit(post=post, actor=request.user), _("Submitted: %(posts)s."))

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve_posts(self, request, queryset):
        self._approval(request, queryset, lambda post: post_approve(post=post, actor=request.user), _("Approved: %(posts)s."))

    @admin.action(description=_("Reject (asks for a comment)"), permissions=["change"])
    def reject_posts(self, request, queryset):
        """A page asks for the comment the author will read; its form posts back to this action."""
        form = RejectForm(request.POST if "reject_apply" in request.POST else None)
        if form.is_valid():
            comment = form.cleaned_data["comment"]
            self._approval(
                request,
                queryset,
                lambda post: post_reject(post=post, actor=request.user, comment=comment),
                _("Rejected: %(posts)s."),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject posts"),
            "opts": self.model._meta,
            "posts": list(queryset),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/posts/post/reject.html", context)

    def _approval(self, request, queryset, change, done) -> None:
        changed, problems = [], []
        for post in self.writable_or_warn(request, queryset):
            try:
                change(post)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                problems.append(f"{post}: {text}")
                continue
            changed.append(str(post))
        if changed:
            self.message_user(request, done % {"posts": ", ".join(changed)}, messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description=_("Cancel selected posts"), permissions=["change"])
    def cancel_posts(self, request, queryset):
        cancelled, problems = 0, []
        for post in self.writable_or_warn(request, queryset):
            try:
                result = post_cancel(post=post, actor=request.user)
            except ValidationError as exc:
                problems.append(f"{post}: {' '.join(exc.messages)}")
                continue
            cancelled += 1
            if result["in_flight"]:
                self.message_user(
                    request,
                    ngettext(
                        "%(post)s: %(count)s execution already posting will finish and be reported.",
                        "%(post)s: %(count)s executions already posting will finish and be reported.",
                        result["in_flight"],
                    )
                    % {"post": post, "count": result["in_flight"]},
                    messages.WARNING,
                )
        if cancelled:
            self.message_user(
                request,
                ngettext("Cancelled %(count)s post.", "Cancelled %(count)s posts.", cancelled) % {"count": cancelled},
                messages.SUCCESS,
            )
        for problem in problems:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description=_("Unconfirmed: mark all as published (I checked the platform)"), permissions=["change"])
    def mark_unconfirmed_published(self, request, queryset):
        self._resolve_unconfirmed(request, queryset, RESOLVE_PUBLISHED)

    @admin.action(description=_("Unconfirmed: retry all (I checked: not on the platform)"), permissions=["change"])
    def retry_unconfirmed(self, request, queryset):
        self._resolve_unconfirmed(request, queryset, RESOLVE_RETRY)

    def _resolve_unconfirmed(self, request, queryset, resolution: str) -> None:
        for post in self.writable_or_warn(request, queryset):
            try:
                result = post_resolve_unconfirmed(post=post, resolution=resolution, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{post}: {' '.join(exc.messages)}", messages.WARNING)
                continue
            count = result["resolved"]
            if resolution == RESOLVE_PUBLISHED:
                text = ngettext(
                    "%(post)s: %(count)s unconfirmed execution marked published.",
                    "%(post)s: %(count)s unconfirmed executions marked published.",
                    count,
                )
            else:
                text = ngettext(
                    "%(post)s: %(count)s unconfirmed execution sent out again.",
                    "%(post)s: %(count)s unconfirmed executions sent out again.",
                    count,
                )
            self.message_user(request, text % {"post": post, "count": count}, messages.SUCCESS)
            for problem in result["problems"]:
                self.message_user(request, f"{post}: {problem}", messages.ERROR)


@admin.register(PostMedia)
class PostMediaAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    """Which post uses which asset. Read-only: media are edited on the post (through post_set_media)."""

    workspace_field = "post__workspace"
    add_role = change_role = delete_role = None
    list_display = ("post", "position", "asset", "preview")
    list_select_related = ("post", "asset")
    list_filter = ("asset__kind",)
    search_fields = ("post__title", "asset__original_name")
    fields = ("post", "asset", "position", "preview")
    readonly_fields = fields

    @admin.display(description=_("preview"))
    def preview(self, obj):
        return asset_thumbnail(obj.asset)


@admin.register(PipelineStage)
class PipelineStageAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    """The stages of source posts' pipelines: find the failed ones and start them again."""

    workspace_field = "post__workspace"
    add_role = delete_role = None
    change_role = Role.EDITOR  # to retry; the rows themselves are written by the pipeline only
    list_display = ("post", "stage", "stage_status", "started_at", "duration", "attempts", "error_excerpt")
    list_filter = ("stage", "status", ("post__workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("post",)
    search_fields = ("post__title", "error", "note")
    fields = ("post", "stage", "status", "started_at", "finished_at", "attempts", "error", "note", "details")
    readonly_fields = fields
    actions = ("retry_stages",)

    @admin.display(description=_("status"), ordering="status")
    def stage_status(self, obj):
        return status_badge(obj)

    @admin.display(description=_("duration"))
    def duration(self, obj):
        return duration_display(obj.duration) or "—"

    @admin.display(description=_("error"))
    def error_excerpt(self, obj):
        return excerpt(obj.error)

    @admin.action(description=_("Retry the selected failed stages"), permissions=["change"])
    def retry_stages(self, request, queryset):
        retried, problems = 0, []
        for stage in self.writable_or_warn(request, queryset).select_related("post"):
            if stage.status != StageStatus.FAILED:
                problems.append(
                    _("%(post)s · %(stage)s: only a failed stage can be retried.")
                    % {"post": stage.post, "stage": stage.get_stage_display()}
                )
                continue
            try:
                stage_retry(post=stage.post, stage=stage.stage, actor=request.user)
            except ValidationError as exc:
                problems.append(f"{stage.post} · {stage.get_stage_display()}: {' '.join(exc.messages)}")
                continue
            retried += 1
        if retried:
            self.message_user(
                request,
                ngettext("%(count)s stage started again.", "%(count)s stages started again.", retried) % {"count": retried},
                messages.SUCCESS,
            )
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)
