"""API for media assets: multipart upload (deduplicated per workspace), list, retrieve, delete."""

from django.db import transaction
from django.db.models import Count, ProtectedError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.api_base import ModelSerializer, WorkspaceScopedMixin, default_workspace
from accounts.models import Role, Workspace

from .models import MediaAsset
from .services import asset_file_names, media_upload


class MediaAssetSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()
    posts_count = serializers.SerializerMethodField(
        help_text="Posts that use this asset; it cannot be deleted while > 0. Null inside a post's media list."
    )

    class Meta:
        model = MediaAsset
        fields = [
            "id",
            "workspace",
            "url",
            "original_name",
            "mime",
            "kind",
            "size",
            "width",
            "height",
            "duration",
            "sha256",
            "status",
            "error",
            "posts_count",
            "created_at",
        ]
        read_only_fields = fields

    def get_posts_count(self, obj: MediaAsset) -> int | None:
        return getattr(obj, "posts_count", None)  # annotated by the media endpoints only

    def get_url(self, obj: MediaAsset) -> str:
        url = obj.file.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class MediaUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A JPEG, PNG, WebP or GIF image, or an MP4, MOV or WebM video.")
    workspace = serializers.PrimaryKeyRelatedField(
        queryset=Workspace.objects.all(),
        required=False,
        help_text="Workspace id. Optional when you are an editor in exactly one workspace.",
    )


class MediaAssetViewSet(
    WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Uploaded media. Editors upload and delete; an asset used by a post cannot be deleted."""

    queryset = MediaAsset.objects.annotate(posts_count=Count("post_media__post", distinct=True)).order_by("-created_at", "-pk")
    serializer_class = MediaAssetSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    write_role = Role.EDITOR
    filterset_fields = ["workspace", "kind", "status", "mime"]
    search_fields = ["original_name"]
    ordering_fields = ["created_at", "size", "original_name"]

    @extend_schema(
        request={"multipart/form-data": MediaUploadSerializer},
        responses={
            201: OpenApiResponse(MediaAssetSerializer, description="Stored."),
            200: OpenApiResponse(MediaAssetSerializer, description="The same content was already in the workspace."),
        },
    )
    def create(self, request):
        """Upload one file. Identical content already in the workspace is returned (200) instead of stored again.

        Images are decoded at once (a bad one is refused with 400). A video is answered ``pending`` and
        probed in the background: it becomes ``ready`` or ``failed`` with the reason in ``error``."""
        upload = MediaUploadSerializer(data=request.data, context=self.get_serializer_context())
        upload.is_valid(raise_exception=True)
        workspace = upload.validated_data.get("workspace") or default_workspace(request, self.required_role())
        asset, created = media_upload(workspace=workspace, file=upload.validated_data["file"], actor=request.user)
        asset = self.get_queryset().get(pk=asset.pk)
        return Response(self.get_serializer(asset).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance: MediaAsset) -> None:
        refused = ValidationError(
            {"detail": f"This asset is used by {instance.posts_count or 'a'} post(s); remove it from them before deleting it."},
            code="conflict",
        )
        if instance.posts_count:
            raise refused
        storage = instance.file.storage
        names = asset_file_names(instance)
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError:
            raise refused from None  # a post took it up meanwhile

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(delete_files)
