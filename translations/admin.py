"""Translation cache: read-only, and for superusers only — it belongs to no
workspace and holds text from all of them."""

from django.contrib import admin

from crosspost.admin_utils import excerpt

from .models import TranslationCache


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

    @admin.display(description="source")
    def source_excerpt(self, obj):
        return excerpt(obj.source_text, 70)

    @admin.display(description="translation")
    def translated_excerpt(self, obj):
        return excerpt(obj.translated_text, 70)
