"""Products as the marketplaces described them: read-only (enrichment writes them);
deleting a row makes the next post that names the product ask the marketplace again."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("article", "marketplace", "title", "brand", "price", "error_code", "fetched_at")
    list_display_links = ("article", "title")
    list_filter = ("marketplace", "error_code", "fetched_at")
    search_fields = ("=article", "title", "brand", "category")
    date_hierarchy = "fetched_at"
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("marketplace", "article", "title", "brand", "category", "price")}),
        (_("Material and care"), {"fields": ("composition", "density", "care", "colors")}),
        (_("Enrichment"), {"fields": ("fetched_at", "error_code", "error", "retry_at", "raw")}),
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
