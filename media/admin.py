"""Admin for uploaded media and their renditions. Uploads go through media_upload,
which sniffs, probes and de-duplicates the bytes."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_utils import (
    ReadOnlyInline,
    WorkspaceModelForm,
    WorkspaceScopedAdmin,
    status_badge,
)
from accounts.models import Role

from .models import MediaAsset, MediaKind, Rendition
from .services import media_upload, renditions_retry


def asset_thumbnail(asset: MediaAsset | None, css_class: str = "cp-thumb") -> str:
    """An <img> of an image asset, straight from its file URL (no query, no processing)."""
    if asset is None or asset.kind != MediaKind.IMAGE or not asset.file:
        return "-"
    return format_html('<img src="{}" class="{}" alt="" loading="lazy">', asset.file.url, css_class)


def _dimensions(obj) -> str:
    return f"{obj.width}×{obj.height}" if obj.width and obj.height else "-"


class MediaUploadForm(WorkspaceModelForm):
    upload = forms.FileField(label=_("File"), help_text=_("A JPEG, PNG, WebP or GIF image, or an MP4, MOV or WebM video."))

    class Meta:
        model = MediaAsset
        fields = ("workspace",)

    def clean(self):
        cleaned = super().clean()
        workspace, upload = cleaned.get("workspace"), cleaned.get("upload")
        if workspace is None or upload is None:
            return cleaned
        # The service is the validator: it sniffs and decodes the bytes. It runs
        # here, inside the admin's transaction, so what it rejects is reported on
        # the field; the stored asset is handed to save_model.
        try:
            self.asset, self.created = media_upload(workspace=workspace, file=upload, actor=self.admin_request.user)
        except ValidationError as exc:
            self.add_error("upload", exc.messages)
        return cleaned


class RenditionInline(ReadOnlyInline):
    model = Rendition
    parent_workspace_field = "workspace"
    fields = ("profile", "aspect", "dimensions", "size_display", "rendition_status", "error")
    readonly_fields = fields

    def get_queryset(self, request):
        # Each row's title names the asset.
        return super().get_queryset(request).select_related("asset")

    @admin.display(description=_("dimensions"))
    def dimensions(self, obj):
        return _dimensions(obj)

    @admin.display(description=_("size"))
    def size_display(self, obj):
        return filesizeformat(obj.size) if obj.size else "-"

    @admin.display(description=_("status"))
    def rendition_status(self, obj):
        return status_badge(obj)


@admin.register(MediaAsset)
class MediaAssetAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    add_role = change_role = Role.EDITOR
    delete_role = Role.ADMIN
    deletes_with = (Rendition,)
    # Few enough columns to fit the page next to the filters; the rest is on each row's page.
    list_display = ("thumbnail", "__str__", "kind", "size_display", "dimensions", "asset_status", "created_at")
    list_display_links = ("thumbnail", "__str__")
    list_filter = ("kind", "status", "mime", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("original_name", "sha256")
    list_select_related = ("uploaded_by", "workspace")
    readonly_fields = (
        "preview",
        "file",
        "sha256",
        "mime",
        "kind",
        "size_display",
        "dimensions",
        "duration",
        "codecs",
        "asset_status",
        "error",
        "uploaded_by",
        "created_at",
    )
    fields = ("workspace", "original_name", *readonly_fields)
    inlines = (RenditionInline,)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MediaUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("workspace", "upload") if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_inline_instances(self, request, obj=None):
        return [] if obj is None else super().get_inline_instances(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        vars(obj).update(vars(form.asset))
        if not form.created:
            self.message_user(
                request,
                _("This file was already uploaded as “%(asset)s”; that asset is shown.") % {"asset": form.asset},
                messages.INFO,
            )

    @admin.display(description="")
    def thumbnail(self, obj):
        return asset_thumbnail(obj, "cp-thumb")

    @admin.display(description=_("preview"))
    def preview(self, obj):
        return asset_thumbnail(obj, "cp-preview")

    @admin.display(description=_("size"), ordering="size")
    def size_display(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description=_("dimensions"))
    def dimensions(self, obj):
        return _dimensions(obj)

    @admin.display(description=_("status"), ordering="status")
    def asset_status(self, obj):
        return status_badge(obj)


@admin.register(Rendition)
class RenditionAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    workspace_field = "asset__workspace"
    add_role = change_role = delete_role = None
    list_display = ("__str__", "aspect", "dimensions", "size_display", "rendition_status", "created_at")
    list_filter = ("status", "aspect", "profile")
    search_fields = ("profile", "asset__original_name", "asset__sha256")
    list_select_related = ("asset",)
    actions = ("render_again",)

    def has_render_permission(self, request) -> bool:
        return self._allowed(request, Role.EDITOR)

    @admin.action(description=_("Render failed renditions again"), permissions=["render"])
    def render_again(self, request, queryset):
        """After fixing the cause (e.g. allowing a trim), queue failed renditions again."""
        count = renditions_retry(renditions=self.writable_or_warn(request, queryset, Role.EDITOR))
        self.message_user(
            request,
            ngettext(
                "Queued %(count)s failed rendition for rendering.", "Queued %(count)s failed renditions for rendering.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.display(description=_("dimensions"))
    def dimensions(self, obj):
        return _dimensions(obj)

    @admin.display(description=_("size"), ordering="size")
    def size_display(self, obj):
        return filesizeformat(obj.size) if obj.size else "-"

    @admin.display(description=_("status"), ordering="status")
    def rendition_status(self, obj):
        return status_badge(obj)
