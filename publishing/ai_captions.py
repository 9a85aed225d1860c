"""AI captions: a platform-specific caption and hashtags from the post's brief.

The post's caption is the brief, its title and the product facts (when the post
names a product) are the only facts the model gets. The answer is checked —
platform length limit, the policy's hashtag range, forbidden words and required
hashtags, and numbers that appear in none of the given facts — and on a
violation the model gets ONE repair attempt; after that the problems are
reported and no caption is offered.

For a post in the AI caption mode the captions are stored (``PostCaption``, one per
post × platform × language) by ``post_captions_prepare`` — the pipeline's captionize
stage and the planner call it — and every account on that platform in that language
publishes the stored one. Operators review and edit them (``post_caption_edit``);
an edited caption is never written again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Platform
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from posts.models import CaptionMode, Post, PostStatus
from products.services import ProductFacts, product_facts
from translations.exceptions import TranslationError, UnsupportedLanguage
from translations.languages import check_code, language_name
from translations.services import ai_completer, ai_configured

from . import prompts
from .models import CaptionStatus, PostCaption, PublishingPolicy
from .rules import HASHTAG, check_rules
from .targets import accounts_to_plan, target_accounts

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
URL = re.compile(r"(?:https?://|www\.)\S+")
MAX_ATTEMPTS = 2  # the first answer and one repair


@dataclass(frozen=True)
class AICaption:
    platform: str
    language: str
    caption: str | None  # None when every attempt broke a rule or the provider failed
    problems: list[str] = field(default_factory=list)
    attempts: int = 0
    facts: dict = field(default_factory=dict)
    provider: str = "openai"
    # The provider failed for a temporary cause (rate limit, outage): seconds until asking again may work.
    retry_after: int | None = None


def _policy(post: Post, platform: str) -> PublishingPolicy:
    saved = PublishingPolicy.objects.filter(workspace_id=post.workspace_id, platform=platform).first()
    # An unsaved policy carries the model defaults (0–30 hashtags, no words) for the checks.
    return saved or PublishingPolicy(workspace_id=post.workspace_id, platform=platform)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in NUMBER.findall(text)}


def check_caption(caption: str, *, platform: str, policy: PublishingPolicy, allowed_source: str) -> list[str]:
    """Every rule ``caption`` breaks, in an operator's words (empty: it may be used)."""
    problems = []
    limit = prompts.CAPTION_LIMITS[platform]
    if len(caption) > limit:
        problems.append(f"The caption has {len(caption)} characters; {Platform(platform).label} allows {limit}.")
    problems += [p.message for p in check_rules(policy, caption)]
    # A number in neither the brief, the title nor the facts is an invented price, size or claim.
    plain = URL.sub(" ", HASHTAG.sub(" ", caption))
    invented = sorted(_numbers(plain) - _numbers(allowed_source))
    if invented:
        problems.append(f"It states numbers that are not in the brief or the product facts: {', '.join(invented)}.")
    return problems


def _assemble(answer: str, required: list[str]) -> tuple[str | None, str]:
    """(caption with its hashtags, problem) from the model's JSON answer."""
    try:
        data = json.loads(answer)
        text = str(data["caption"]).strip()
        tags = data.get("hashtags") or []
        if not isinstance(tags, list):
            raise TypeError("hashtags is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        return None, f'The answer was not the JSON asked for ({{"caption", "hashtags"}}): {type(exc).__name__}.'
    seen = {"#" + t.lower() for t in HASHTAG.findall(text)}
    clean = []
    for tag in [*map(str, tags), *required]:
        tag = "#" + re.sub(r"\s+", "", tag.lstrip("#"))
        if len(tag) > 1 and tag.lower() not in seen:
            seen.add(tag.lower())
            clean.append(tag)
    return (f"{text}\n\n{' '.join(clean)}" if clean else text), ""


def generate_ai_caption(*, post: Post, platform: str, language: str, facts: ProductFacts | None = None) -> AICaption:
    """A caption for ``platform`` in ``language`` from ``post``'s brief; see the module docstring.

    ``facts`` default to the post's product facts (fetched and cached); a
    marketplace failure only means fewer facts. Raises ValidationError for an
    unknown platform or language; provider failures come back as problems.
    """
    if platform not in prompts.PLATFORM_PROMPTS:
        raise ValidationError({"platform": f"Choose one of {', '.join(sorted(prompts.PLATFORM_PROMPTS))}."})
    try:
        language = check_code(language)
        language_name(language)
    except UnsupportedLanguage as exc:
        raise ValidationError({"language": str(exc)}) from exc
    if facts is None:
        facts = product_facts((post.options or {}).get("product"))
    fact_dict = facts.as_dict() if facts else {}
    if not ai_configured():
        return AICaption(platform, language, None, ["AI captions need OpenAI: set OPENAI_API_KEY."], facts=fact_dict)

    policy = _policy(post, platform)
    required = ["#" + t.lstrip("#") for t in policy.required_hashtags or []]
    messages = prompts.caption_messages(
        platform=platform,
        language=language,
        brief=post.caption,
        title=post.title,
        facts=fact_dict,
        max_length=prompts.CAPTION_LIMITS[platform],
        hashtag_min=policy.hashtag_min,
        hashtag_max=policy.hashtag_max,
        required_hashtags=required,
        forbidden_words=list(policy.forbidden_words or []),
    )
    allowed_source = " ".join([post.caption, post.title, json.dumps(fact_dict, ensure_ascii=False)])
    complete = ai_completer()
    problems: list[str] = []
    answer = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt > 1:
            messages = prompts.repair_messages(messages, answer, problems)
        try:
            answer = complete(messages)
        except TranslationError as exc:
            retry_after = getattr(exc, "retry_after", None)
            return AICaption(
                platform, language, None, [f"OpenAI: {exc}"], attempts=attempt, facts=fact_dict, retry_after=retry_after
            )
        caption, problem = _assemble(answer, required)
        problems = (
            [problem]
            if caption is None
            else check_caption(caption, platform=platform, policy=policy, allowed_source=allowed_source)
        )
        if not problems:
            return AICaption(platform, language, caption, [], attempts=attempt, facts=fact_dict)
    return AICaption(
        platform,
        language,
        None,
        [f"The AI caption still breaks the rules after one repair: {' '.join(problems)}"],
        attempts=MAX_ATTEMPTS,
        facts=fact_dict,
    )


@dataclass
class CaptionsOutcome:
    """What ``post_captions_prepare`` did: pairs it stored, and the (platform, language) pairs it
    could not caption with the reason each — their executions are blocked with it."""

    stored: int = 0
    problems: dict[tuple[str, str], str] = field(default_factory=dict)
    # Every (platform, language) the plan needs that has a caption: written now, kept or edited.
    captions: dict[tuple[str, str], str] = field(default_factory=dict)
    # Pairs that failed for a temporary cause (rate limit, outage): seconds after which to try again.
    retry_after: dict[tuple[str, str], int] = field(default_factory=dict)
    kept: int = 0

    def messages(self) -> list[str]:
        return [f"{Platform(p).label} ({lang}): {reason}" for (p, lang), reason in sorted(self.problems.items())]


def source_hash(post: Post, *, platform: str, language: str, facts: dict, policy: PublishingPolicy) -> str:
    """A fingerprint of everything a caption is written from: when it changes, the caption is stale."""
    material = {
        "platform": platform,
        "language": language,
        "brief": post.caption,
        "title": post.title,
        "facts": facts,
        "hashtags": [policy.hashtag_min, policy.hashtag_max],
        "required": list(policy.required_hashtags or []),
        "forbidden": list(policy.forbidden_words or []),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def post_captions_prepare(*, post: Post, now: datetime | None = None, due_only: bool = False) -> CaptionsOutcome:
    """The captionize stage: for a post whose caption mode asks for AI captions, one LLM call per
    (platform, language) its targets need, stored per post × platform × language (kept when
    already stored or edited). Any other caption mode: nothing to do.

    The pairs are those of the target accounts the next plan decides about (no execution yet, or a
    blocked one; with ``due_only`` only those due for a re-plan). A stored caption is kept while it
    is fresh (written from the same brief, title, facts and rules) and always when an operator
    edited it; a failed, stale or missing one is written again. The product facts are looked up
    once. Call it outside any transaction: it waits on the network.
    """
    outcome = CaptionsOutcome()
    if post.caption_mode != CaptionMode.AI:
        return outcome
    pairs = sorted(set(accounts_to_plan(post, now=now, due_only=due_only).values_list("platform", "language")))
    if not pairs:
        return outcome
    facts = product_facts((post.options or {}).get("product"))
    fact_dict = facts.as_dict() if facts else {}
    stored = {(row.platform, row.language): row for row in PostCaption.objects.filter(post=post)}
    policies: dict[str, PublishingPolicy] = {}
    for platform, language in pairs:
        policy = policies.setdefault(platform, _policy(post, platform))
        fingerprint = source_hash(post, platform=platform, language=language, facts=fact_dict, policy=policy)
        row = stored.get((platform, language))
        if row is not None and (row.edited or (row.status == CaptionStatus.OK and row.source_hash == fingerprint)):
            outcome.captions[(platform, language)] = row.caption
            outcome.kept += 1
            continue
        try:
            result = generate_ai_caption(post=post, platform=platform, language=language, facts=facts)
        except ValidationError as exc:  # a platform or language the prompts do not cover
            result = AICaption(platform, language, None, exc.messages, facts=fact_dict)
        row = _store(post, platform, language, result, fingerprint)
        if row.status == CaptionStatus.OK:
            outcome.captions[(platform, language)] = row.caption
            outcome.stored += result.caption is not None
        else:
            outcome.problems[(platform, language)] = row.problem
            if result.retry_after is not None:
                outcome.retry_after[(platform, language)] = result.retry_after
    return outcome


def _store(post: Post, platform: str, language: str, result: AICaption, fingerprint: str) -> PostCaption:
    """Save ``result`` as the (platform, language) caption of ``post`` — unless an operator edited
    that caption meanwhile: their text wins. A failure keeps the previous text for the operator
    to fix, but the caption is failed and its executions are blocked."""
    fields = {
        "status": CaptionStatus.OK if result.caption is not None else CaptionStatus.FAILED,
        "problem": "" if result.caption is not None else " ".join(result.problems),
        "facts": result.facts,
        "source_hash": fingerprint,
        "generated_at": timezone.now(),
    }
    if result.caption is not None:
        fields["caption"] = result.caption
    lookup = {"post": post, "platform": platform, "language": language}
    with transaction.atomic():
        row = PostCaption.objects.select_for_update().filter(**lookup).first()
        if row is None:
            try:
                with transaction.atomic():
                    return PostCaption.objects.create(**lookup, **fields)
            except IntegrityError:  # written by a run at the same moment: update that one
                row = PostCaption.objects.select_for_update().get(**lookup)
        if row.edited:
            return row
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        return row


def post_captions_generate(*, post: Post) -> CaptionsOutcome:
    """``post_captions_prepare`` on an operator's request, refused when there is nothing it could do."""
    if post.caption_mode != CaptionMode.AI:
        raise ValidationError(
            {"caption_mode": _("This post does not use AI captions: set its caption mode to AI caption per platform first.")}
        )
    if not target_accounts(post).exists():
        raise ValidationError(_("The post has no target accounts: add target groups or accounts."), code="conflict")
    return post_captions_prepare(post=post)


def check_caption_edit(caption: PostCaption, text: str) -> None:
    """Refuse the operator's ``text`` for a stored AI caption with every reason: empty, or past the
    platform's limit or the workspace's content rules. Not checked against the facts — the operator
    may know more than the model."""
    if not (text or "").strip():
        raise ValidationError({"caption": _("A caption cannot be empty.")})
    # ``allowed_source`` is the text itself: every number in it counts as given.
    problems = check_caption(text, platform=caption.platform, policy=_policy(caption.post, caption.platform), allowed_source=text)
    if problems:
        raise ValidationError({"caption": problems})


def post_caption_edit(*, caption: PostCaption, text: str, actor=None) -> PostCaption:
    """The operator's text for one stored AI caption (see ``check_caption_edit``), kept for good
    (``edited``: never written again). Refused for a cancelled post."""
    post = caption.post
    if post.status == PostStatus.CANCELLED:
        raise ValidationError(_("This post was cancelled; its captions can no longer change."), code="conflict")
    check_caption_edit(caption, text)
    with transaction.atomic():
        row = PostCaption.objects.select_for_update().get(pk=caption.pk)
        row.caption, row.status, row.problem = text, CaptionStatus.OK, ""
        row.edited, row.edited_by = True, actor if getattr(actor, "is_authenticated", False) else None
        row.save()
        log_activity(
            action="post.caption_override",
            post=post,
            actor=actor,
            status=LogStatus.SUCCESS,
            message=f"Edited the {row.get_platform_display()} ({row.language}) AI caption by hand.",
            details={"platform": row.platform, "language": row.language, "length": len(text)},
        )
    return row
