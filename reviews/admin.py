from django.contrib import admin

from reviews.models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Read-only: a review is written by its client through the API."""

    list_display = ["consultation", "consultant", "client", "rating", "created_at"]
    list_filter = ["rating"]
    list_select_related = ["consultant__user", "client"]
    search_fields = ["client__email", "consultant__user__email", "comment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
