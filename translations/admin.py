"""Translation cache: read-only, and for superusers only — it belongs to no
workspace and holds text from all of them. Glossaries and translation settings
belong to a workspace: editors keep glossaries, admins choose the provider."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_utils import WorkspaceScopedAdmin, excerpt
from accounts.models import Role

from .models import Glossary, TranslationCache, TranslationSettings


@admin.register(TranslationCache)
class TranslationCacheAdmin(admin.ModelAdmin):
    list_display = (
        "source_language",
        "target_language",
        "provider",
        "source_excerpt",
        "translated_excerpt",
        "hits",
        "created_at",
    )
    list_filter = ("provider", "target_language", "source_language")
    search_fields = ("key", "source_text", "translated_text")
    date_hierarchy = "created_at"
    fields = (
        "key",
        "provider",
        ("source_language", "target_language"),
        "source_text",
        "translated_text",
        "options",
        "hits",
        "created_at",
    )
    readonly_fields = (
        "key",
        "provider",
        "source_language",
        "target_language",
        "source_text",
        "translated_text",
        "options",
        "hits",
        "created_at",
    )

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("source"))
    def source_excerpt(self, obj):
        return excerpt(obj.source_text, 70)

    @admin.display(description=_("translation"))
    def translated_excerpt(self, obj):
        return excerpt(obj.translated_text, 70)


@admin.register(Glossary)
class GlossaryAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = ("__str__", "source_language", "target_language", "terms", "updated_at")
    list_filter = ("source_language", "target_language", ("workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("workspace",)
    readonly_fields = ("updated_at",)
    fields = ("workspace", ("source_language", "target_language"), "entries", "updated_at")
    add_role = change_role = delete_role = Role.EDITOR

    @admin.display(description=_("terms"))
    def terms(self, obj):
        return len(obj.entries or {})


@admin.register(TranslationSettings)
class TranslationSettingsAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = ("workspace", "provider", "updated_at")
    list_select_related = ("workspace",)
    readonly_fields = ("updated_at",)
    fields = ("workspace", "provider", "updated_at")
