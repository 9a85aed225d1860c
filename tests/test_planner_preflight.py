"""The planner's preflight shortcuts (issue 19): what is the same for every account of a platform
and caption — the media's problems, the policy's rules, and ``validate()`` of an adapter that reads
nothing of the account — is checked once, the rest per account; executions are written on
PostgreSQL from array literals built once per distinct value. Each plan here is compared with the
per-account way: every account a model instance with its secrets decrypted, every account
validated on its own. An account whose check differs from its neighbours' must still be caught."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountStatus, Platform
from platforms.base import MediaItem, PublishRequest
from platforms.registry import ADAPTERS, get_adapter
from publishing import planner
from publishing.models import ExecutionStatus, PublishingPolicy
from publishing.planner import post_publish

from .factories import AccountGroupFactory, MediaAssetFactory, PostFactory, PostMediaFactory, ProxyFactory, SocialAccountFactory
from .test_planner_scale import planned_both_ways, written_both_ways

MB = 1024 * 1024
LONG_DE = "Hallo " * 200  # 1,200 characters: over Telegram's 1,024 under a photo, within the sandbox's 5,000
LONG_FR = "Bonjour " * 700  # 5,600 characters: over the sandbox's 5,000 too
TELEGRAM = {"bot_token": "1:abc"}
VK = {"access_token": "vk"}


def _photo_post(workspace, group, *, size: int = 3 * MB):
    post = PostFactory(
        workspace=workspace,
        media_type="photo",
        caption="Hello #launch",
        options={"captions": {"de": LONG_DE, "fr": LONG_FR}},
    )
    PostMediaFactory(post=post, asset=MediaAssetFactory(workspace=workspace, original_name="photo.png", size=size))
    post.target_groups.set([group])
    return post


@pytest.fixture
def varied(workspace):
    """A photo post to accounts that differ where the per-account checks look: languages with an
    over-limit caption, a missing bot token, a missing chat, banned and no-access accounts, a proxy,
    and policies whose rules block one language (required hashtag) and one platform (file size)."""
    group = AccountGroupFactory(workspace=workspace)
    proxy = ProxyFactory(workspace=workspace)
    kinds = [
        (Platform.SANDBOX, "en", {}, {}, AccountStatus.ACTIVE),
        (Platform.SANDBOX, "de", {}, {}, AccountStatus.ACTIVE),
        (Platform.SANDBOX, "fr", {}, {}, AccountStatus.ACTIVE),
        (Platform.SANDBOX, "en", {}, {}, AccountStatus.BANNED),
        (Platform.TELEGRAM, "en", TELEGRAM, {"chat_id": "@news"}, AccountStatus.ACTIVE),
        (Platform.TELEGRAM, "en", {}, {"chat_id": "@news"}, AccountStatus.ACTIVE),  # no bot token
        (Platform.TELEGRAM, "en", TELEGRAM, {}, AccountStatus.ACTIVE),  # no chat
        (Platform.TELEGRAM, "de", TELEGRAM, {"chat_id": "-1001234567890"}, AccountStatus.ACTIVE),  # caption too long
        (Platform.TELEGRAM, "en", TELEGRAM, {"chat_id": "@news"}, AccountStatus.NO_ACCESS),
        (Platform.VK, "en", VK, {"owner_id": -42}, AccountStatus.ACTIVE),  # the VK policy's file size
        (Platform.VK, "en", {}, {"owner_id": -42}, AccountStatus.ACTIVE),
    ]
    for round_ in range(2):
        for index, (platform, language, credentials, options, status) in enumerate(kinds):
            SocialAccountFactory(
                workspace=workspace,
                group=group,
                platform=platform,
                language=language,
                credentials=credentials,
                options=options,
                status=status,
                status_reason="The bot was removed from the channel." if round_ else "",
                proxy=proxy if index % 3 == round_ else None,
            )
    PublishingPolicy.objects.create(workspace=workspace, platform=Platform.SANDBOX, required_hashtags=["#launch"])
    PublishingPolicy.objects.create(workspace=workspace, platform=Platform.VK, max_file_size_mb=2)
    return _photo_post(workspace, group)


@pytest.mark.django_db
def test_it_plans_a_varied_post_as_the_per_account_way_does(varied, monkeypatch):
    plan, reference = planned_both_ways(varied, monkeypatch, seed=3)
    assert plan == reference
    problems = {(e["platform"], e["language"], "; ".join(e["problems"])) for e in plan["accounts"]}
    # Each per-account difference is caught on the accounts it concerns, and only there.
    assert (Platform.SANDBOX, "en", "") in problems
    assert any(
        p == Platform.SANDBOX and lang == "de" and "Add the required hashtag(s): #launch." in text for p, lang, text in problems
    )
    assert any(p == Platform.SANDBOX and lang == "fr" and "5000" in text for p, lang, text in problems)
    assert any(p == Platform.TELEGRAM and "bot token" in text for p, _lang, text in problems)
    assert any(p == Platform.TELEGRAM and "target chat" in text for p, _lang, text in problems)
    assert any(p == Platform.TELEGRAM and lang == "de" and "1024" in text for p, lang, text in problems)
    assert any(p == Platform.TELEGRAM and "lost the right to post" in text for p, _lang, text in problems)
    assert (Platform.TELEGRAM, "en", "") in problems  # the complete Telegram account is planned
    vk = [text for p, _lang, text in problems if p == Platform.VK]
    assert vk and all("the rules allow at most 2 MB" in text for text in vk)
    assert any("access token" in text for text in vk)


@pytest.mark.django_db
def test_the_executions_of_a_varied_post_are_the_per_account_ones(varied, monkeypatch):
    fast, reference = written_both_ways(varied, monkeypatch, seed=3)
    assert fast == reference
    assert {row["status"] for row in fast.values()} == {ExecutionStatus.PENDING, ExecutionStatus.BLOCKED}


class _Untouchable:
    """An account no one may read."""

    def __getattr__(self, name):
        raise AssertionError(f"validate() read the account's {name}")


@pytest.mark.parametrize("platform", [p for p in ADAPTERS if not get_adapter(p).validate_reads_account])
@pytest.mark.parametrize("media_type", ["text", "photo", "video", "carousel", "reel", "story"])
@pytest.mark.parametrize("caption", ["", "Hello #launch", "x" * 6000])
def test_an_adapter_that_says_it_reads_no_account_reads_none(platform, media_type, caption):
    """The planner validates the accounts of such an adapter once per caption: its ``validate``
    must give every account the same answer because it never looks at one."""
    image = MediaItem(path="/tmp/a.png", url="", kind="image", mime="image/png", size=1000, width=64, height=48)
    video = MediaItem(path="/tmp/a.mp4", url="", kind="video", mime="video/mp4", size=5000, width=720, height=1280, duration=9)
    for media in [(), (image,), (video,), (image, video), (image,) * 11]:
        request = PublishRequest(account=_Untouchable(), caption=caption, media_type=media_type, media=media)
        get_adapter(platform).validate(request)


@pytest.mark.django_db
def test_a_varied_plan_takes_as_many_queries_for_2_rounds_as_for_6(workspace):
    def queries_for(rounds: int) -> int:
        group = AccountGroupFactory(workspace=workspace)
        proxy = ProxyFactory(workspace=workspace)
        for index in range(rounds):
            SocialAccountFactory(workspace=workspace, group=group, language=("en", "de", "fr")[index % 3], proxy=proxy)
            SocialAccountFactory(
                workspace=workspace, group=group, platform=Platform.TELEGRAM, credentials=TELEGRAM, options={"chat_id": "@news"}
            )
            SocialAccountFactory(
                workspace=workspace, group=group, platform=Platform.VK, credentials={}, status=AccountStatus.BANNED
            )
        post = _photo_post(workspace, group, size=1000)
        with CaptureQueriesContext(connection) as ctx:
            plan = post_publish(post=post)
        assert plan.created == rounds + rounds - rounds // 3  # the Telegram ones, the sandbox ones but the French
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(6)


# Text an array literal must carry unchanged: quotes, backslashes, braces, commas, the word NULL.
AWKWARD = ['He said "hi", {ok}', 'back\\slash \\" and \\\\', "NULL", "", " spaced ", "line\nbreak", "ünïcödé ✓", "a,b"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_array_literals_carry_every_value_unchanged():
    moscow = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(180))
    times = [datetime(2026, 12, 6, 5, 0, 0, 1, tzinfo=UTC), moscow, None, moscow + timedelta(microseconds=1)]
    ids = [uuid.uuid4(), uuid.uuid4()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::timestamptz[], %s::uuid[]",
            [
                planner._array_literal([*AWKWARD, None, *AWKWARD]),
                planner._array_literal(times),
                planner._array_literal(map(str, ids)),
            ],
        )
        texts, stamps, uuids = cursor.fetchone()
    assert texts == [*AWKWARD, None, *AWKWARD]
    assert stamps == times
    assert uuids == ids


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_awkward_captions_are_written_as_bulk_create_writes_them(workspace, monkeypatch):
    group = AccountGroupFactory(workspace=workspace)
    for language in ("en", "de", "fr", "it"):
        SocialAccountFactory(workspace=workspace, group=group, language=language)
        SocialAccountFactory(workspace=workspace, group=group, language=language, platform=Platform.TELEGRAM)
    post = PostFactory(
        workspace=workspace,
        media_type="text",
        caption=AWKWARD[0],
        options={"captions": {"de": AWKWARD[1], "fr": AWKWARD[5] + AWKWARD[6], "it": "NULL"}},
    )
    post.target_groups.set([group])
    test_the_executions_of_a_varied_post_are_the_per_account_ones(post, monkeypatch)
