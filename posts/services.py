"""Composing posts: create, edit, order their media, captions written by hand, delete; and the
retention of their media (``media_cleanup``). Publishing them is the planner's job."""

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountGroup, SocialAccount, Workspace
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from media.models import MediaAsset
from media.services import assets_delete
from translations.exceptions import UnsupportedLanguage
from translations.languages import check_code

from .caption_template import check_template
from .models import MAX_MEDIA_PER_POST, ApprovalStatus, CaptionMode, MediaType, Post, PostMedia, PostStatus
from .options import caption_overrides, check_stored_options
from .signals import approval_withdrawn

logger = logging.getLogger(__name__)

CLEANUP_BATCH = 200

EDITABLE_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED)
# A post with executions waiting or running (scheduled, publishing) is cancelled first, then deleted.
DELETABLE_STATUSES = (PostStatus.DRAFT, PostStatus.COMPLETED, PostStatus.PARTIAL, PostStatus.FAILED, PostStatus.CANCELLED)
# A scheduled time this far in the past is clock skew between the operator's machine and ours;
# further back it is a mistake, not "now".
SCHEDULE_GRACE = timedelta(seconds=60)
# Fields post_update may change; status moves only through publish/cancel.
EDITABLE_FIELDS = (
    "title",
    "caption",
    "language",
    "media_type",
    "caption_mode",
    "caption_template",
    "priority",
    "scheduled_at",
    "options",
)


# What an approval approves: the text, media and per-platform options that get published. Targets,
# time and priority are not content — rescheduling an approved post keeps its approval.
CONTENT_FIELDS = ("title", "caption", "language", "media_type", "caption_mode", "caption_template", "options")


def _withdraw_approval(post: Post, locked: Post) -> bool:
    """Send an approved post whose content just changed back to waiting for approval (when its
    workspace needs approvals). Sets the fields on ``post``; the caller saves it. True if withdrawn."""
    if locked.approval_status != ApprovalStatus.APPROVED or not post.workspace.posts_need_approval:
        return False
    post.approval_status = ApprovalStatus.PENDING
    post.approval_comment, post.approval_by, post.approval_at = "", None, None
    return True


def _approval_withdrawn(post: Post, actor, changed: list[str]) -> None:
    log_activity(
        action="post.approval_withdrawn",
        post=post,
        actor=actor,
        status=LogStatus.INFO,
        message="The content changed after approval: the post waits for approval again.",
        details={"fields": changed},
    )
    approval_withdrawn.send_robust(sender=Post, post_id=post.pk)


def _check_targets(
    workspace: Workspace, target_groups: Sequence[AccountGroup] | None, target_accounts: Sequence[SocialAccount] | None
) -> None:
    errors = {}
    for field, objects in (("target_groups", target_groups), ("target_accounts", target_accounts)):
        strangers = [obj for obj in objects or () if obj.workspace_id != workspace.pk]
        if strangers:
            names = ", ".join(f"{obj} (#{obj.pk})" for obj in strangers)
            errors[field] = ValidationError(
                f"These belong to another workspace than the post's ({workspace}): {names}.", code="conflict"
            )
    if errors:
        raise ValidationError(errors)


def check_scheduled_at(scheduled_at: datetime | None, *, now: datetime | None = None) -> None:
    """Refuse a time that has passed (beyond SCHEDULE_GRACE): publishing it would post at once."""
    if scheduled_at is not None and scheduled_at < (now or timezone.now()) - SCHEDULE_GRACE:
        raise ValidationError(_("This time has passed; pick a later one or choose Now."), code="past")


def check_caption(media_type: str, caption: str) -> None:
    """A text post is its caption: an empty one would publish empty posts."""
    if media_type == MediaType.TEXT and not (caption or "").strip():
        raise ValidationError(_("A text post needs a caption."), code="empty_text")


def check_caption_mode(caption_mode: str, caption_template: str) -> None:
    """The template mode needs a template, and a template only the placeholders the renderer knows."""
    problems = check_template(caption_template)
    if caption_mode == CaptionMode.TEMPLATE and not (caption_template or "").strip():
        problems.insert(0, _("The caption template mode needs a template: write one or choose another caption mode."))
    if problems:
        raise ValidationError(problems, code="invalid_template")


def _check_content(post: Post, fields: dict, before: Post | None = None) -> None:
    errors = {}
    if "scheduled_at" in fields and (before is None or fields["scheduled_at"] != before.scheduled_at):
        try:
            check_scheduled_at(post.scheduled_at)
        except ValidationError as exc:
            errors["scheduled_at"] = exc
    if before is None or "caption" in fields or "media_type" in fields:
        try:
            check_caption(post.media_type, post.caption)
        except ValidationError as exc:
            errors["caption"] = exc
    if before is None or "caption_mode" in fields or "caption_template" in fields:
        try:
            check_caption_mode(post.caption_mode, post.caption_template)
        except ValidationError as exc:
            errors["caption_template"] = exc
    if errors:
        raise ValidationError(errors)


def hash_content(caption: str, media_sha256: Sequence[str]) -> str:
    """The duplicate warning's fingerprint: sha256 of the caption as a reader sees it (trimmed,
    whitespace runs collapsed, case folded) and the media's own sha256s in display order.
    Migration 0007 keeps a frozen copy of this: change both or neither."""
    digest = hashlib.sha256(" ".join((caption or "").split()).casefold().encode())
    for sha in media_sha256:
        digest.update(b"\0" + sha.encode())
    return digest.hexdigest()


def content_hash(post: Post) -> str:
    """``hash_content`` of the post's caption and its media as stored (one query)."""
    shas = PostMedia.objects.filter(post=post).order_by("position").values_list("asset__sha256", flat=True)
    return hash_content(post.caption, list(shas))


def _store_content_hash(post: Post, media_sha256: Sequence[str] | None = None) -> None:
    fingerprint = content_hash(post) if media_sha256 is None else hash_content(post.caption, media_sha256)
    if fingerprint != post.content_hash:
        post.content_hash = fingerprint
        Post.objects.filter(pk=post.pk).update(content_hash=fingerprint)


def _check_editable(post: Post) -> None:
    if post.status not in EDITABLE_STATUSES:
        raise ValidationError(
            f"Only draft or scheduled posts can be edited; this one is {post.get_status_display().lower()}. "
            "Create a new post instead.",
            code="conflict",
        )


@transaction.atomic
def post_create(
    *,
    workspace: Workspace,
    author=None,
    target_groups: Sequence[AccountGroup] = (),
    target_accounts: Sequence[SocialAccount] = (),
    media: Sequence[MediaAsset] = (),
    **fields,
) -> Post:
    """Create a draft post. ``fields`` are model fields from EDITABLE_FIELDS; ``media`` is in display order."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"post_create() got unexpected fields: {', '.join(sorted(unknown))}")
    post = Post(
        workspace=workspace,
        author=author if getattr(author, "is_authenticated", False) else None,
        status=PostStatus.DRAFT,
        **fields,
    )
    post.content_hash = hash_content(post.caption, [asset.sha256 for asset in media])
    post.full_clean()
    _check_content(post, fields)
    _check_targets(workspace, target_groups, target_accounts)
    post.save()
    post.target_groups.set(target_groups)
    post.target_accounts.set(target_accounts)
    post_set_media(post=post, assets=media)
    log_activity(action="post.create", post=post, actor=author, status=LogStatus.SUCCESS, details={"media": len(media)})
    return post


@transaction.atomic
def post_update(
    *,
    post: Post,
    actor=None,
    target_groups: Sequence[AccountGroup] | None = None,
    target_accounts: Sequence[SocialAccount] | None = None,
    media: Sequence[MediaAsset] | None = None,
    **fields,
) -> Post:
    """Change a draft or scheduled post. Arguments left out (or None for relations) stay as they are.

    The post row is locked so a publish or cancel running at the same moment
    sees either the old or the new content, never half of each.
    """
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"post_update() got unexpected fields: {', '.join(sorted(unknown))}")
    locked = Post.objects.select_for_update().get(pk=post.pk)
    _check_editable(locked)
    for name, value in fields.items():
        setattr(post, name, value)
    post.status = locked.status
    # The approval is the locked row's: a stale ``post`` must not undo an approval or a rejection.
    for name in ("approval_status", "approval_comment", "approval_by_id", "approval_at"):
        setattr(post, name, getattr(locked, name))
    # (A change of media withdraws it in post_set_media, below.)
    content = [name for name in CONTENT_FIELDS if name in fields and getattr(locked, name) != fields[name]]
    withdrawn = bool(content) and _withdraw_approval(post, locked)
    post.full_clean()
    _check_content(post, fields, before=locked)
    _check_targets(post.workspace, target_groups, target_accounts)
    post.save()
    if target_groups is not None:
        post.target_groups.set(target_groups)
    if target_accounts is not None:
        post.target_accounts.set(target_accounts)
    if media is not None:
        post_set_media(post=post, assets=media, actor=actor)  # stores the content hash
    elif "caption" in fields:
        _store_content_hash(post)
    relations = (("target_groups", target_groups), ("target_accounts", target_accounts), ("media", media))
    changed = sorted(fields) + [name for name, value in relations if value is not None]
    log_activity(action="post.update", post=post, actor=actor, status=LogStatus.SUCCESS, details={"fields": changed})
    if withdrawn:
        _approval_withdrawn(post, actor, content)
    return post


@transaction.atomic
def post_set_media(*, post: Post, assets: Sequence[MediaAsset], actor=None) -> list[PostMedia]:
    """Replace the post's media with ``assets``, positions 0… in the given order. Other media
    than before withdraw an approval (``actor`` is who changed them, for the activity log)."""
    _check_editable(post)
    assets = list(assets)
    if len(assets) > MAX_MEDIA_PER_POST:
        raise ValidationError({"media": f"A post carries at most {MAX_MEDIA_PER_POST} media; {len(assets)} were given."})
    seen, repeated = set(), []
    for asset in assets:
        if asset.pk in seen:
            repeated.append(str(asset.pk))
        seen.add(asset.pk)
    if repeated:
        raise ValidationError({"media": f"Each asset may appear once in a post; repeated: {', '.join(repeated)}."})
    strangers = [asset for asset in assets if asset.workspace_id != post.workspace_id]
    if strangers:
        names = ", ".join(f"{asset} (#{asset.pk})" for asset in strangers)
        message = f"These assets belong to another workspace than the post's: {names}."
        raise ValidationError({"media": ValidationError(message, code="conflict")})
    before = list(PostMedia.objects.filter(post=post).order_by("position").values_list("asset_id", flat=True))
    PostMedia.objects.filter(post=post).delete()
    items = PostMedia.objects.bulk_create(
        [PostMedia(post=post, asset=asset, position=position) for position, asset in enumerate(assets)]
    )
    _store_content_hash(post, [asset.sha256 for asset in assets])
    if before != [asset.pk for asset in assets]:
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if _withdraw_approval(locked, locked):
            locked.save(update_fields=["approval_status", "approval_comment", "approval_by", "approval_at", "updated_at"])
            for name in ("approval_status", "approval_comment", "approval_by_id", "approval_at"):
                setattr(post, name, getattr(locked, name))
            _approval_withdrawn(locked, actor, ["media"])
    return items


@transaction.atomic
def post_delete(*, post: Post, actor=None) -> None:
    """Delete a draft or a finished post with its executions; a scheduled or publishing one is
    refused (its executions would vanish mid-flight): cancel it first."""
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if locked.status not in DELETABLE_STATUSES:
        raise ValidationError(
            _("A %(status)s post cannot be deleted; cancel it first.") % {"status": locked.get_status_display().lower()},
            code="conflict",
        )
    log_activity(
        action="post.delete",
        workspace=post.workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Deleted post #{post.pk}: {post}",
    )
    locked.delete()


@transaction.atomic
def post_set_caption(*, post: Post, language: str, caption: str | None, actor=None) -> Post:
    """Set (or with ``caption=None`` remove) the operator's caption of ``post`` in ``language``.

    Stored in ``Post.options["captions"]``; re-translation never overwrites it and the
    planner uses it instead of translating. Refused for cancelled posts.
    """
    try:
        language = check_code(language)
    except UnsupportedLanguage as exc:
        raise ValidationError({"language": str(exc)}) from exc
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if locked.status == PostStatus.CANCELLED:
        raise ValidationError("This post was cancelled; its captions can no longer change.", code="conflict")
    check_stored_options(locked)
    options = dict(locked.options or {})
    captions = {k: v for k, v in caption_overrides(locked).items() if k.lower() != language.lower()}
    if caption is not None:
        if not caption.strip():
            raise ValidationError({"caption": "A caption cannot be empty; remove the override to translate again."})
        captions[language] = caption
    if captions:
        options["captions"] = captions
    else:
        options.pop("captions", None)
    withdrawn = options != (locked.options or {}) and _withdraw_approval(locked, locked)
    locked.options = options
    locked.save(update_fields=["options", "approval_status", "approval_comment", "approval_by", "approval_at", "updated_at"])
    post.options = locked.options
    for name in ("approval_status", "approval_comment", "approval_by_id", "approval_at"):
        setattr(post, name, getattr(locked, name))
    log_activity(
        action="post.caption_override" if caption is not None else "post.caption_override_removed",
        post=locked,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"{'Set' if caption is not None else 'Removed'} the {language} caption by hand.",
        details={"language": language, "length": len(caption or "")},
    )
    if withdrawn:
        _approval_withdrawn(locked, actor, ["captions"])
    return post


# --- media retention -----------------------------------------------------------------------------


def media_cleanup(*, now: datetime | None = None, batch: int = CLEANUP_BATCH) -> dict[str, int]:
    """Delete originals and renditions (rows and files) used only by posts finished more than
    MEDIA_RETENTION_DAYS ago. An asset any other post uses — unfinished, or finished recently —
    is kept whole. Files go after commit."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MEDIA_RETENTION_DAYS)
    still_needed = PostMedia.objects.filter(Q(post__finished_at__isnull=True) | Q(post__finished_at__gte=cutoff)).values(
        "asset_id"
    )
    deleted = {"assets": 0, "files": 0}
    while True:
        ids = list(
            MediaAsset.objects.filter(post_media__post__finished_at__lt=cutoff)
            .exclude(pk__in=still_needed)
            .values_list("pk", flat=True)
            .distinct()[:batch]
        )
        if not ids:
            return deleted
        try:
            with transaction.atomic():
                assets = list(MediaAsset.objects.filter(pk__in=ids).exclude(pk__in=still_needed).select_for_update())
                PostMedia.objects.filter(asset__in=assets, post__finished_at__lt=cutoff).delete()
                files = assets_delete(assets)
        except ProtectedError:
            # A post took one of them up meanwhile: the next run sees it as still needed.
            logger.info("Media cleanup skipped a batch that a post started using.")
            return deleted
        deleted["assets"] += len(assets)
        deleted["files"] += files
        if len(ids) < batch:
            return deleted
