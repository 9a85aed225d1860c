"""API for posts: compose, edit while draft or scheduled, cancel, follow their executions."""

from dataclasses import asdict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api_base import (
    MAX_ID,
    VISIBLE_TEXT,
    CharField,
    DateTimeField,
    DateTimeRangeFilter,
    JSONField,
    LocalDateTimeField,
    ScopedFilterSet,
    ScopedPrimaryKeyRelatedField,
    StrictBooleanField,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
)
from accounts.models import AccountGroup, Platform, Role, SocialAccount
from accounts.selectors import scope
from media.api import MediaAssetSerializer
from media.models import MediaAsset
from planning.api import RecurrenceInputSerializer, RecurrenceSerializer
from planning.evergreen import evergreen_set
from planning.models import Recurrence
from planning.recurrence import recurrence_set, recurrence_stop
from platforms import options as platform_options
from products.selectors import product_summary, products_cached
from publishing.ai_captions import generate_ai_caption, post_caption_edit, post_captions_generate
from publishing.api import ExecutionSerializer, executions_queryset
from publishing.approvals import post_approve, post_reject, post_submit
from publishing.models import PostCaption
from publishing.pipeline import stage_retry as pipeline_stage_retry
from publishing.planner import post_publish
from publishing.selectors import post_caption_preview
from publishing.services import RESOLUTIONS, post_cancel, post_edit, post_resolve_unconfirmed

from .models import MAX_MEDIA_PER_POST, PipelineStage, Post, PostMedia, Priority, Stage
from .options import PRODUCT_KEYS, caption_overrides, validate_post_options
from .pipeline import stages_of
from .services import post_create, post_delete, post_set_caption


class PostMediaItemSerializer(serializers.ModelSerializer):
    asset = MediaAssetSerializer(read_only=True)

    class Meta:
        model = PostMedia
        fields = ["id", "position", "asset"]


class PostMediaField(serializers.Field):
    """Written as an ordered list of asset ids; read as ``[{id, position, asset{…}}]``."""

    default_error_messages = {
        "not_a_list": "Expected a list of media asset ids, got {input_type}.",
        "too_many": "A post carries at most {max} media; {count} were given.",
        "invalid_id": "Media asset ids are whole numbers from 1; {value!r} is not one.",
        "repeated": "Each asset may appear once in a post; repeated: {ids}.",
        "does_not_exist": "No media asset with id(s) {ids} in your workspaces.",
    }

    def to_representation(self, value) -> list:
        return PostMediaItemSerializer(value.all(), many=True, context=self.context).data

    def to_internal_value(self, data) -> list[MediaAsset]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > MAX_MEDIA_PER_POST:
            self.fail("too_many", max=MAX_MEDIA_PER_POST, count=len(data))
        ids = []
        for value in data:
            text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID):
                self.fail("invalid_id", value=value)
            ids.append(int(value))
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            self.fail("repeated", ids=", ".join(map(str, repeated)))
        # Assets of every workspace the user sees; the service refuses those of another workspace than the post's.
        found = scope(MediaAsset.objects.filter(pk__in=ids), self.context["request"].user).in_bulk()
        missing = [i for i in ids if i not in found]
        if missing:
            self.fail("does_not_exist", ids=", ".join(map(str, missing)))
        return [found[i] for i in ids]


class PostMediaFieldExtension(OpenApiSerializerFieldExtension):
    target_class = PostMediaField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "maxItems": MAX_MEDIA_PER_POST,
                "uniqueItems": True,
                "description": "Media asset ids in display order.",
            }
        item = auto_schema.resolve_serializer(PostMediaItemSerializer, direction)
        return {"type": "array", "items": item.ref}


_OPTION_SCHEMAS = {
    platform_options.BOOL: {"type": "boolean"},
    platform_options.INT: {"type": "integer"},
    platform_options.NUMBER: {"type": "number"},
    platform_options.STR: {"type": "string"},
    platform_options.STR_LIST: {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    platform_options.DIGITS: {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]},
}


def _platform_options_schema(platform: str) -> dict:
    known = {**platform_options.COMMON, **platform_options.POST_OPTIONS[platform]}
    return {
        "type": "object",
        "properties": {key: _OPTION_SCHEMAS[kind] for key, kind in known.items()},
        "additionalProperties": False,
    }


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            **{str(platform): _platform_options_schema(platform) for platform in platform_options.POST_OPTIONS},
            "allow_trim": {"type": "boolean"},
            "captions": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Captions by language."},
            "product": {"type": "object", "properties": {key: {} for key in PRODUCT_KEYS}, "additionalProperties": False},
        },
        "additionalProperties": False,
    }
)
class PostOptionsField(JSONField):
    """``Post.options``: validate_post_options checks it, and its schema spells out what that accepts."""


ORIGIN = inline_serializer(
    "PostOrigin",
    {"source": serializers.IntegerField(), "remote_id": serializers.CharField(), "url": serializers.CharField()},
    allow_null=True,
)

PRODUCT_SUMMARY = inline_serializer(
    "PostProduct",
    {
        "marketplace": serializers.CharField(),
        "article": serializers.IntegerField(allow_null=True),
        "fetched": serializers.BooleanField(),
        "facts": serializers.DictField(allow_null=True),
        "note": serializers.CharField(),
    },
    allow_null=True,
)


class PostListSerializer(serializers.ListSerializer):
    """A page of posts reads the products they name in one query, not one per post."""

    def to_representation(self, data):
        posts = list(data.all() if hasattr(data, "all") else data)
        self.child.context["products"] = products_cached([(p.options or {}).get("product") for p in posts])
        return super().to_representation(posts)


class PostSerializer(WorkspaceOwnedSerializer):
    media = PostMediaField(required=False)
    target_groups = ScopedPrimaryKeyRelatedField(many=True, queryset=AccountGroup.objects.all(), required=False)
    target_accounts = ScopedPrimaryKeyRelatedField(many=True, queryset=SocialAccount.objects.all(), required=False)
    scheduled_at = LocalDateTimeField(
        required=False,
        allow_null=True,
        help_text="RFC 3339. Without a UTC offset the time is read in your time zone. Empty: as soon as possible.",
    )
    options = PostOptionsField(
        required=False,
        validators=[validate_post_options],
        help_text="Per-platform options keyed by platform, and the post's own: captions, product, allow_trim.",
    )

    product = serializers.SerializerMethodField(
        help_text="The product options.product names, from the cache (never a marketplace call): marketplace, article, "
        'fetched (looked up yet), facts (or null) and note ("no product facts: <reason>" when the marketplace gave none).'
    )

    origin = serializers.SerializerMethodField(
        help_text="Where a watched source's post came from: source (id), remote_id and url; null for any other post."
    )
    evergreen = StrictBooleanField(
        required=False,
        help_text="Recycled into free slots of its queue (queue_group, or the workspace's), at most once per account "
        "within the workspace's evergreen gap. May change whatever the post's status, except on a repetition.",
    )

    class Meta:
        model = Post
        fields = [
            "id",
            "workspace",
            "author",
            "title",
            "caption",
            "language",
            "media_type",
            "caption_mode",
            "caption_template",
            "media",
            "target_groups",
            "target_accounts",
            "priority",
            "scheduled_at",
            "status",
            "options",
            "product",
            "origin",
            "evergreen",
            "parent",
            "occurrence_at",
            "approval_status",
            "approval_comment",
            "approval_by",
            "approval_at",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = [
            "author",
            "status",
            "parent",
            "occurrence_at",
            "approval_status",
            "approval_comment",
            "approval_by",
            "approval_at",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        list_serializer_class = PostListSerializer

    @extend_schema_field(PRODUCT_SUMMARY)
    def get_product(self, obj: Post) -> dict | None:
        return product_summary((obj.options or {}).get("product"), self.context.get("products"))

    @extend_schema_field(ORIGIN)
    def get_origin(self, obj: Post) -> dict | None:
        origin = getattr(obj, "origin", None)  # a missing one-to-one raises an AttributeError subclass
        return {"source": origin.source_id, "remote_id": origin.remote_id, "url": origin.url} if origin else None

    @transaction.atomic
    def create(self, validated_data: dict) -> Post:
        evergreen = validated_data.pop("evergreen", False)
        post = post_create(author=self.context["request"].user, **validated_data)
        return evergreen_set(post=post, evergreen=True, actor=post.author) if evergreen else post

    @transaction.atomic
    def update(self, instance: Post, validated_data: dict) -> Post:
        # Evergreen is not content: it may change on a finished post, which post_update refuses.
        evergreen = validated_data.pop("evergreen", None)
        actor = self.context["request"].user
        if validated_data or evergreen is None:
            instance = post_edit(post=instance, actor=actor, **validated_data)
        if evergreen is not None:
            instance = evergreen_set(post=instance, evergreen=evergreen, actor=actor)
        return instance


class PostFilter(ScopedFilterSet):
    scheduled_at = DateTimeRangeFilter(help_text="scheduled_at_after / scheduled_at_before (RFC 3339).")
    created_at = DateTimeRangeFilter(help_text="created_at_after / created_at_before (RFC 3339).")

    class Meta:
        model = Post
        fields = [
            "workspace",
            "status",
            "priority",
            "media_type",
            "language",
            "approval_status",
            "scheduled_at",
            "created_at",
            "parent",
            "evergreen",
        ]


class ApprovalInputSerializer(serializers.Serializer):
    comment = CharField(required=False, allow_blank=True, default="", help_text="Optional: what the approver adds.")


class RejectInputSerializer(serializers.Serializer):
    comment = CharField(help_text="Required: why the post is rejected; the author reads it to fix the post.")


CancelResultSerializer = inline_serializer(
    "PostCancelResult",
    {
        "status": serializers.CharField(),
        "cancelled": serializers.IntegerField(help_text="Executions stopped before they reached a worker."),
        "in_flight": serializers.IntegerField(help_text="Executions already posting; they finish and are reported."),
    },
)


class ResolveUnconfirmedInputSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=RESOLUTIONS,
        help_text="published: you checked, they are live on the platform; retry: they are not, send them again.",
    )


ResolveUnconfirmedSerializer = inline_serializer(
    "ResolveUnconfirmedResult",
    {
        "status": serializers.CharField(),
        "resolved": serializers.IntegerField(help_text="Unconfirmed executions settled."),
        "problems": serializers.ListField(child=serializers.CharField(), help_text="Those settled meanwhile by others."),
    },
)


class PublishInputSerializer(serializers.Serializer):
    scheduled_at = LocalDateTimeField(required=False, allow_null=True, help_text="Publish at this time; empty: now.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    dry_run = serializers.BooleanField(required=False, default=False)


class PublishQuerySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, help_text="Return the plan without creating executions.")


PlanSerializer = inline_serializer(
    "Plan",
    {
        "post": serializers.IntegerField(),
        "dry_run": serializers.BooleanField(),
        "planned": serializers.IntegerField(),
        "existing": serializers.IntegerField(),
        "blocked": serializers.IntegerField(),
        "approval_required": serializers.CharField(
            help_text="A dry run of a post that needs an approval it lacks: why publishing it would be refused ('' otherwise)."
        ),
        "accounts": inline_serializer(
            "PlanEntry",
            {
                "account_id": serializers.UUIDField(),
                "handle": serializers.CharField(),
                "platform": serializers.CharField(),
                "language": serializers.CharField(),
                "status": serializers.ChoiceField(choices=["planned", "exists", "blocked"]),
                "scheduled_for": DateTimeField(allow_null=True),
                "caption": serializers.CharField(),
                "problems": serializers.ListField(child=serializers.CharField()),
                "execution_id": serializers.IntegerField(allow_null=True),
                "retry_after": serializers.IntegerField(
                    allow_null=True, help_text="Blocked for a temporary cause: planned again by itself in this many seconds."
                ),
                "warnings": serializers.ListField(
                    child=serializers.CharField(),
                    help_text="Planned all the same, but look: e.g. the same caption and media went or will go to this "
                    "account within the workspace's duplicate window.",
                ),
            },
            many=True,
        ),
    },
)


TranslationPreviewSerializer = inline_serializer(
    "TranslationPreview",
    {
        "post": serializers.IntegerField(),
        "source_language": serializers.CharField(),
        "languages": inline_serializer(
            "LanguageCaption",
            {
                "language": serializers.CharField(),
                "accounts": serializers.IntegerField(help_text="Target accounts in this language."),
                "caption": serializers.CharField(allow_null=True),
                "title": serializers.CharField(),
                "provider": serializers.CharField(help_text="source, override, deepl or openai; empty when it failed."),
                "overridden": serializers.BooleanField(),
                "problem": serializers.CharField(),
            },
            many=True,
        ),
    },
)


class CaptionOverrideInputSerializer(serializers.Serializer):
    caption = CharField(trim_whitespace=False, validators=[VISIBLE_TEXT])


CaptionOverridesSerializer = inline_serializer(
    "CaptionOverrides",
    {"post": serializers.IntegerField(), "captions": serializers.DictField(child=serializers.CharField())},
)


class AICaptionInputSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    language = CharField(max_length=20)


AICaptionSerializer = inline_serializer(
    "AICaption",
    {
        "platform": serializers.CharField(),
        "language": serializers.CharField(),
        "caption": serializers.CharField(allow_null=True),
        "problems": serializers.ListField(child=serializers.CharField()),
        "attempts": serializers.IntegerField(),
        "facts": serializers.DictField(help_text="The product facts the model was given."),
        "provider": serializers.CharField(),
    },
)


class PipelineStageSerializer(serializers.ModelSerializer):
    """One stage of a source post's pipeline; a stage not reached yet is ``waiting`` with no times."""

    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = PipelineStage
        fields = ["stage", "status", "started_at", "finished_at", "duration_seconds", "attempts", "error", "note", "details"]
        read_only_fields = fields

    def get_duration_seconds(self, obj: PipelineStage) -> float | None:
        return obj.duration


class PostCaptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostCaption
        fields = [
            "platform",
            "language",
            "caption",
            "status",
            "problem",
            "facts",
            "edited",
            "edited_by",
            "generated_at",
            "updated_at",
        ]
        read_only_fields = fields


class PostCaptionInputSerializer(serializers.Serializer):
    caption = CharField(trim_whitespace=False, validators=[VISIBLE_TEXT])


GeneratedCaptionsSerializer = inline_serializer(
    "GeneratedCaptions",
    {
        "post": serializers.IntegerField(),
        "stored": serializers.IntegerField(help_text="Captions written now."),
        "kept": serializers.IntegerField(help_text="Captions still fresh or edited by hand, kept as they are."),
        "problems": serializers.ListField(
            child=serializers.CharField(), help_text="Platforms and languages without a caption, and why."
        ),
        "captions": PostCaptionSerializer(many=True),
    },
)


class PostViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Posts. Editors and above write; only drafts and scheduled posts can be edited."""

    queryset = Post.objects.select_related("origin").prefetch_related(
        Prefetch("media", queryset=PostMedia.objects.select_related("asset").order_by("position")),
        "target_groups",
        Prefetch("target_accounts", queryset=SocialAccount.objects.only("pk")),
    )
    serializer_class = PostSerializer
    filterset_class = PostFilter
    write_role = Role.EDITOR
    search_fields = ["title", "caption"]
    ordering_fields = ["created_at", "scheduled_at", "priority", "status"]

    def perform_create(self, serializer):
        post = serializer.save()
        serializer.instance = self.get_queryset().get(pk=post.pk)

    def perform_update(self, serializer):
        post = serializer.save()
        serializer.instance = self.get_queryset().get(pk=post.pk)

    def perform_destroy(self, instance: Post) -> None:
        post_delete(post=instance, actor=self.request.user)

    @extend_schema(
        request=PublishInputSerializer,
        parameters=[PublishQuerySerializer],
        responses={200: PlanSerializer, 201: PlanSerializer},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Plan the post's executions on its target accounts and start publishing.

        Answers with the plan: per account, when it will post or why it will not (a blocked
        account gets a ``blocked`` execution with the reason). When not one account can be
        published to, it answers 400 with every reason and creates nothing.
        Idempotent: publishing again never creates a second execution for an account; it plans
        the blocked ones again.
        """
        post = self.get_object()
        data = PublishInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        query = PublishQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        dry_run = data.validated_data["dry_run"] or query.validated_data.get("dry_run", False)
        plan = post_publish(
            post=post,
            actor=request.user,
            dry_run=dry_run,
            scheduled_at=data.validated_data.get("scheduled_at"),
            priority=data.validated_data.get("priority"),
        )
        return Response(plan.as_dict(), status=status.HTTP_201_CREATED if plan.created and not dry_run else status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: TranslationPreviewSerializer})
    @action(detail=True, methods=["post"])
    def translate(self, request, pk=None):
        """Review before publishing: the caption in every target account's language.

        Per language: the operator's override, else the cached or freshly made
        translation, with its provider and any problem. Nothing is published.
        """
        post = self.get_object()
        languages = post_caption_preview(post=post)
        if not languages:
            raise DjangoValidationError("The post has no target accounts: add target groups or accounts.", code="conflict")
        return Response({"post": post.pk, "source_language": post.language, "languages": languages})

    @extend_schema(
        request=CaptionOverrideInputSerializer,
        responses={200: CaptionOverridesSerializer},
        description="PUT/PATCH set the operator's caption for one language (never overwritten by re-translation); "
        "DELETE removes it so the language is translated again.",
    )
    @action(
        detail=True,
        methods=["put", "patch", "delete"],
        url_path=r"captions/(?P<language>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)",
        url_name="caption",
    )
    def caption(self, request, pk=None, language=None):
        """The operator's caption of this post in one language."""
        post = self.get_object()
        if request.method == "DELETE":
            post_set_caption(post=post, language=language, caption=None, actor=request.user)
        else:
            data = CaptionOverrideInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            post_set_caption(post=post, language=language, caption=data.validated_data["caption"], actor=request.user)
        return Response({"post": post.pk, "captions": caption_overrides(post)})

    @extend_schema(request=AICaptionInputSerializer, responses={200: AICaptionSerializer})
    @action(detail=True, methods=["post"], url_path="ai-caption")
    def ai_caption(self, request, pk=None):
        """Preview an AI caption for one platform and language from the post's brief (and product facts).

        The caption is checked against the platform's length limit and the policy's
        content rules; when it breaks them after one repair, ``caption`` is null and
        ``problems`` say why. Nothing is saved.
        """
        post = self.get_object()
        data = AICaptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = generate_ai_caption(post=post, **data.validated_data)
        return Response(asdict(result))

    @extend_schema(request=None, responses=PostCaptionSerializer(many=True), filters=False)
    @action(
        detail=True,
        methods=["get"],
        url_path="ai-captions",
        filterset_class=None,
        search_fields=[],
        ordering_fields=[],
        pagination_class=None,  # a handful per post (platforms × languages), answered as one list
    )
    def ai_captions(self, request, pk=None):
        """The post's stored AI captions, one per platform and language (with their status and problem)."""
        post = self.get_object()
        return Response(PostCaptionSerializer(post.ai_captions.all(), many=True).data)

    @extend_schema(request=None, responses={200: GeneratedCaptionsSerializer})
    @action(detail=True, methods=["post"], url_path="ai-captions/generate", url_name="ai-captions-generate")
    def ai_captions_generate(self, request, pk=None):
        """Write the AI captions the post's targets need: one LLM call per platform and language.

        Fresh and hand-edited captions are kept; missing, failed and stale ones (the brief, title,
        product facts or rules changed) are written again. 400 when the post is not in the AI caption mode.
        """
        post = self.get_object()
        outcome = post_captions_generate(post=post)
        return Response(
            {
                "post": post.pk,
                "stored": outcome.stored,
                "kept": outcome.kept,
                "problems": outcome.messages(),
                "captions": PostCaptionSerializer(post.ai_captions.all(), many=True).data,
            }
        )

    @extend_schema(request=PostCaptionInputSerializer, responses={200: PostCaptionSerializer})
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"ai-captions/(?P<platform>[a-z]{2,16})/(?P<language>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)",
        url_name="ai-caption-edit",
    )
    def ai_caption_edit(self, request, pk=None, platform=None, language=None):
        """Replace one AI caption with the operator's text (kept for good: never written again).

        Checked against the platform's length limit and the workspace's content rules; 400 with
        every problem when it breaks them.
        """
        post = self.get_object()
        caption = get_object_or_404(PostCaption.objects.select_related("post"), post=post, platform=platform, language=language)
        data = PostCaptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        caption = post_caption_edit(caption=caption, text=data.validated_data["caption"], actor=request.user)
        return Response(PostCaptionSerializer(caption).data)

    @extend_schema(request=ResolveUnconfirmedInputSerializer, responses={200: ResolveUnconfirmedSerializer})
    @action(detail=True, methods=["post"], url_path="resolve-unconfirmed")
    def resolve_unconfirmed(self, request, pk=None):
        """Settle every unconfirmed execution of the post after checking the platform:
        ``published`` marks them published, ``retry`` sends them out again."""
        post = self.get_object()
        data = ResolveUnconfirmedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = post_resolve_unconfirmed(post=post, resolution=data.validated_data["resolution"], actor=request.user)
        post.refresh_from_db(fields=["status"])
        return Response({"status": post.status, **result})

    @extend_schema(request=None, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit the post for approval (a workspace where posts need approval); the approvers are told.

        Editors and above. 409 when it already waits, is approved, or the workspace needs no approvals.
        """
        post = post_submit(post=self.get_object(), actor=request.user)
        return self._post_answer(post)

    @extend_schema(request=ApprovalInputSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve the post (admins, owners and members marked as approvers; not the author's own
        unless admin or owner): it may be published now. A source's post waiting at its publish
        stage is published."""
        return self._decide(request, ApprovalInputSerializer, post_approve)

    @extend_schema(request=RejectInputSerializer, responses={200: PostSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a post waiting for approval, with a comment (required) the author reads."""
        return self._decide(request, RejectInputSerializer, post_reject)

    def _decide(self, request, input_serializer, decide) -> Response:
        """Approve or reject: the comment read by ``input_serializer``, the decision by the service."""
        post = self.get_object()
        data = input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide(post=post, actor=request.user, comment=data.validated_data["comment"])
        return self._post_answer(post)

    def _post_answer(self, post: Post) -> Response:
        """The post as it is now, read through the viewset's queryset (its annotations included)."""
        return Response(self.get_serializer(self.get_queryset().get(pk=post.pk)).data)

    @extend_schema(request=None, responses={200: CancelResultSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the post: queued executions stop; those already posting finish and are reported."""
        post = self.get_object()
        result = post_cancel(post=post, actor=request.user)
        post.refresh_from_db(fields=["status"])
        return Response({"status": post.status, **result})

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: RecurrenceSerializer},
        description="The post's repetition rule; 404 when it has none.",
    )
    @extend_schema(
        methods=["PUT"],
        request=RecurrenceInputSerializer,
        responses={200: RecurrenceSerializer},
        description="Repeat the post by this rule (replacing its rule): each occurrence becomes a new post linked to "
        "this one (parent, occurrence_at) and published then. Occurrences already past are not made.",
    )
    @extend_schema(methods=["DELETE"], request=None, responses={204: None}, description="Stop repeating; repetitions made stay.")
    @action(
        detail=True,
        methods=["get", "put", "delete"],
        filterset_class=None,
        search_fields=[],
        ordering_fields=[],
        pagination_class=None,
    )
    def recurrence(self, request, pk=None):
        """The post's repetition rule: read, set or stop it."""
        post = self.get_object()
        if request.method == "DELETE":
            recurrence_stop(post=post, actor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if request.method == "PUT":
            data = RecurrenceInputSerializer(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            rule = recurrence_set(post=post, actor=request.user, **data.validated_data)
        else:
            rule = get_object_or_404(Recurrence, post=post)
        return Response(RecurrenceSerializer(rule).data)

    @extend_schema(responses=ExecutionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[])
    def executions(self, request, pk=None):
        """The post's executions (one per target account), paginated."""
        post = self.get_object()
        page = self.paginate_queryset(executions_queryset().filter(post=post))
        return self.get_paginated_response(ExecutionSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(responses=PipelineStageSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[], pagination_class=None)
    def stages(self, request, pk=None):
        """The seven stages of the post's pipeline in order (ingest → finalize), with status, times,
        duration, error and note. A post composed by hand has no pipeline: every stage is ``waiting``."""
        post = self.get_object()
        return Response(PipelineStageSerializer(stages_of(post), many=True).data)

    @extend_schema(
        request=None,
        responses={200: PipelineStageSerializer},
        description="Run a failed stage again; the stages after it follow, the ones before are not redone. "
        "409 when the stage has not failed; 400 for a stage that cannot be retried (ingest, or an unknown name).",
    )
    @action(detail=True, methods=["post"], url_path=r"stages/(?P<stage>[a-z]+)/retry", url_name="stage-retry")
    def stage_retry(self, request, pk=None, stage=None):
        """Retry one failed stage of the post's pipeline."""
        post = self.get_object()
        if stage not in Stage.values:
            raise DjangoValidationError(f"There is no stage {stage!r}: choose one of {', '.join(Stage.values)}.", code="invalid")
        return Response(PipelineStageSerializer(pipeline_stage_retry(post=post, stage=stage, actor=request.user)).data)
