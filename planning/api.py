"""API of recurring posts: a post's rule at ``posts/{id}/recurrence/`` (the route lives on the
post viewset, posts.api); these serializers read and write it."""

from rest_framework import serializers

from accounts.api_base import LocalDateTimeField, ModelSerializer

from .models import Frequency, Recurrence
from .recurrence import MAX_INTERVAL, describe


class RecurrenceSerializer(ModelSerializer):
    description = serializers.SerializerMethodField(help_text="The rule in words, in the workspace's time zone.")

    class Meta:
        model = Recurrence
        fields = [
            "frequency",
            "interval",
            "weekdays",
            "starts_at",
            "until",
            "count",
            "made",
            "next_at",
            "active",
            "description",
            "created_at",
        ]
        read_only_fields = fields

    def get_description(self, obj: Recurrence) -> str:
        return describe(obj)


class RecurrenceInputSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=Frequency.choices, help_text="daily: every N days; weekly: every N weeks.")
    interval = serializers.IntegerField(min_value=1, max_value=MAX_INTERVAL, default=1, help_text="N.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        default=list,
        max_length=7,
        help_text="For weekly: 0 = Monday … 6 = Sunday; empty: the weekday of starts_at.",
    )
    starts_at = LocalDateTimeField(
        help_text="The first occurrence (RFC 3339; without an offset, in your time zone). Later ones keep its local "
        "time in the workspace's time zone."
    )
    until = serializers.DateField(required=False, allow_null=True, default=None, help_text="Last day, inclusive.")
    count = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=100_000, help_text="Occurrences; empty: no limit."
    )
