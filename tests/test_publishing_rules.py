"""Content rules from a publishing_rules YAML, and caption templates."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from crosspost.models import ActivityLog
from products.services import ProductFacts
from publishing.caption_templates import render_caption, split_hashtags
from publishing.models import PublishingPolicy
from publishing.planner import post_publish
from publishing.rules_import import RulesError, import_publishing_rules, parse_rules

from .factories import (
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    VideoAssetFactory,
)

pytestmark = pytest.mark.django_db

# The seed requirements' config/publishing_rules.yml, verbatim.
SEED_RULES = """\
platforms:
  instagram:
    enabled: true
    max_daily_posts: 5
    optimal_times: ["09:00", "18:00", "21:00"]
    hashtags_count: [10, 30]
    caption_templates:
      fashion: "✨ {title}\\n\\n📝 {description}\\n\\n🏷️ {hashtags}"

  vk:
    enabled: true
    max_daily_posts: 10
    hashtags_count: [5, 15]

  tiktok:
    enabled: true
    max_daily_posts: 3
    video_duration: [15, 60]

  youtube:
    enabled: true
    max_daily_posts: 1

  telegram:
    enabled: true
    channels: ["@channel1", "@channel2"]

content_rules:
  min_video_quality: 720p
  max_file_size: 100MB
  forbidden_words: ["спам", "реклама"]
  required_hashtags: ["#saleswhisper"]
"""


def run(tmp_path, text: str, *args):
    path = tmp_path / "publishing_rules.yml"
    path.write_text(text, encoding="utf-8")
    call_command("import_publishing_rules", str(path), *args)


def test_it_imports_the_seed_rules(tmp_path, workspace, capsys):
    PublishingPolicyFactory(workspace=workspace, platform="vk", min_interval_s=999, forbidden_words=["old"])

    run(tmp_path, SEED_RULES, "--workspace", workspace.slug)

    policies = {p.platform: p for p in PublishingPolicy.objects.filter(workspace=workspace)}
    assert set(policies) == {"instagram", "vk", "tiktok", "youtube", "telegram"}
    instagram = policies["instagram"]
    assert (instagram.hashtag_min, instagram.hashtag_max, instagram.daily_limit) == (10, 30, 5)
    assert instagram.optimal_times == ["09:00", "18:00", "21:00"]
    assert instagram.caption_template == "✨ {title}\n\n📝 {description}\n\n🏷️ {hashtags}"
    assert (policies["vk"].hashtag_min, policies["vk"].hashtag_max, policies["vk"].daily_limit) == (5, 15, 10)
    assert policies["vk"].min_interval_s == 999  # fields the YAML leaves out stay as they were
    assert all(p.forbidden_words == ["спам", "реклама"] for p in policies.values())
    assert all(p.required_hashtags == ["#saleswhisper"] for p in policies.values())
    assert ActivityLog.objects.filter(action="policy.import", workspace=workspace).exists()
    # What the importer once stored but nothing read now acts: switch, optimal times, media limits.
    assert all(p.enabled for p in policies.values())
    assert instagram.use_optimal_times and not policies["vk"].use_optimal_times
    assert (policies["tiktok"].min_video_duration_s, policies["tiktok"].max_video_duration_s) == (15, 60)
    assert (policies["vk"].min_video_duration_s, policies["vk"].max_video_duration_s) == (None, None)
    assert all((p.min_video_quality, p.max_file_size_mb) == (720, 100) for p in policies.values())
    err = capsys.readouterr().err
    assert err == "warning: platforms.telegram.channels: ignored (not a publishing rule Crosspost knows).\n"


def test_it_reports_bad_yaml_with_its_line(tmp_path, workspace):
    with pytest.raises(CommandError, match=r"not valid YAML at line 4, column \d+"):
        run(tmp_path, "platforms:\n  vk:\n    hashtags_count: [5, 15\n  tiktok: {}\n", "--workspace", workspace.slug)


def test_it_saves_nothing_and_names_every_bad_path(tmp_path, workspace):
    bad = SEED_RULES.replace("[5, 15]", "[15, 5]").replace("max_daily_posts: 3", "max_daily_posts: 0") + "  facebook: {}\n"
    bad = bad.replace("platforms:\n", "platforms:\n  myspace: {}\n", 1)
    with pytest.raises(CommandError) as raised:
        run(tmp_path, bad, "--workspace", workspace.slug)
    message = str(raised.value)
    assert "nothing was saved" in message
    assert "platforms.vk.hashtags_count: expected [min, max] with 0 ≤ min ≤ max, got [15, 5]" in message
    assert "platforms.tiktok.max_daily_posts: expected a whole number ≥ 1, got 0" in message
    assert "platforms.myspace: unknown platform" in message
    assert not PublishingPolicy.objects.exists()


def test_it_makes_you_choose_among_several_templates(tmp_path, workspace):
    rules = 'platforms:\n  instagram:\n    caption_templates:\n      fashion: "{title}"\n      food: "{description}"\n'
    with pytest.raises(CommandError, match=r"several templates \(fashion, food\); choose one with --template NAME"):
        run(tmp_path, rules, "--workspace", workspace.slug)
    with pytest.raises(CommandError, match=r"Unknown placeholder\(s\) \{price\}"):
        run(tmp_path, rules.replace("{title}", "{price}"), "--workspace", workspace.slug, "--template", "fashion")
    run(tmp_path, rules, "--workspace", workspace.slug, "--template", "food")
    assert PublishingPolicy.objects.get(workspace=workspace, platform="instagram").caption_template == "{description}"


def test_it_checks_the_workspace_and_can_dry_run(tmp_path, workspace):
    with pytest.raises(CommandError, match="No workspace with slug 'nope'"):
        run(tmp_path, SEED_RULES, "--workspace", "nope")
    run(tmp_path, SEED_RULES, "--workspace", workspace.slug, "--dry-run")
    assert not PublishingPolicy.objects.exists()


def test_it_reports_unknown_keys_where_they_are_and_imports_the_rest(workspace):
    data = {
        "version": 2,
        "platforms": {
            "vk": {"enabled": False, "max_daily_posts": 4, "channels": ["@a"], "colour": "red"},
            "tiktok": {"optimal_times": ["10:00"], "use_optimal_times": False, "video_duration": [None, 90]},
        },
        "content_rules": {"max_file_size": "1.5GB", "min_video_quality": "1080p", "watermark": True},
        "schedule": {"x": 1},
    }
    result = import_publishing_rules(workspace=workspace, data=data)

    assert result.warnings == [
        "schedule: ignored (not a publishing rule Crosspost knows).",
        "version: ignored (not a publishing rule Crosspost knows).",
        "content_rules.watermark: ignored (not a publishing rule Crosspost knows).",
        "platforms.vk.channels: ignored (not a publishing rule Crosspost knows).",
        "platforms.vk.colour: ignored (not a publishing rule Crosspost knows).",
    ]
    vk = PublishingPolicy.objects.get(workspace=workspace, platform="vk")
    assert (vk.enabled, vk.daily_limit, vk.max_file_size_mb, vk.min_video_quality) == (False, 4, 1536, 1080)
    tiktok = PublishingPolicy.objects.get(workspace=workspace, platform="tiktok")
    assert tiktok.optimal_times == ["10:00"] and not tiktok.use_optimal_times
    assert (tiktok.min_video_duration_s, tiktok.max_video_duration_s) == (None, 90)
    log = ActivityLog.objects.get(action="policy.import", workspace=workspace)
    assert log.details["warnings"] == result.warnings


def test_it_refuses_bad_switches_and_media_limits_naming_their_path():
    with pytest.raises(RulesError) as raised:
        parse_rules(
            {
                "platforms": {
                    "vk": {"enabled": "no", "video_duration": [60, 15], "min_video_quality": "high"},
                    "tiktok": {"use_optimal_times": 1, "max_file_size": "500KB"},
                },
            }
        )
    assert raised.value.errors == [
        "platforms.vk.enabled: expected true or false, got 'no'.",
        "platforms.vk.video_duration: expected [min, max] seconds with 0 ≤ min ≤ max (null: no limit), got [60, 15].",
        "platforms.vk.min_video_quality: expected a video quality such as 720p, got 'high'.",
        "platforms.tiktok.use_optimal_times: expected true or false, got 1.",
        "platforms.tiktok.max_file_size: expected a size of at least 1 MB such as 100MB or 2GB, got '500KB'.",
    ]
    # A platform's own limit wins over content_rules'; null clears one.
    parsed = parse_rules(
        {
            "platforms": {"vk": {"max_file_size": None, "min_video_quality": 480}, "youtube": {}},
            "content_rules": {"max_file_size": 50, "min_video_quality": "4K"},
        }
    )
    assert (parsed.policies["vk"]["max_file_size_mb"], parsed.policies["vk"]["min_video_quality"]) == (None, 480)
    assert (parsed.policies["youtube"]["max_file_size_mb"], parsed.policies["youtube"]["min_video_quality"]) == (50, 2160)


# --- The rules acting in the planner ---------------------------------------------------------------


def test_it_blocks_the_accounts_of_a_platform_the_rules_switch_off(workspace):
    import_publishing_rules(workspace=workspace, data={"platforms": {"tiktok": {"enabled": False}}})
    tiktok = SocialAccountFactory(workspace=workspace, platform="tiktok", status="banned")
    sandbox = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set([tiktok, sandbox])

    plan = {e.account_id: e for e in post_publish(post=post, dry_run=True).entries}

    assert plan[str(tiktok.pk)].status == "blocked"
    assert plan[str(tiktok.pk)].problems == ["Publishing to TikTok is switched off in this workspace's rules."]
    assert plan[str(sandbox.pk)].status == "planned"


def test_it_blocks_media_outside_the_rules_limits(workspace):
    PublishingPolicyFactory(
        workspace=workspace, platform="sandbox", min_video_duration_s=15, max_video_duration_s=60, min_video_quality=720
    )
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="video", caption="A clip")
    PostMediaFactory(post=post, asset=VideoAssetFactory(workspace=workspace, original_name="short.mp4"))
    post.target_accounts.set([account])

    problems = post_publish(post=post, dry_run=True).entries[0].problems
    assert "short.mp4 lasts 4 s; the rules want at least 15 s." in problems
    assert "short.mp4 is 180×320 (180p); the rules want at least 720p." in problems

    PublishingPolicy.objects.filter(workspace=workspace).update(min_video_duration_s=None, min_video_quality=360)
    post.media.update(
        asset=VideoAssetFactory(workspace=workspace, original_name="long.mp4", duration=75.25, width=640, height=360)
    )
    problems = post_publish(post=post, dry_run=True).entries[0].problems
    assert problems == ["long.mp4 lasts 75.2 s; the rules allow at most 60 s."]


def test_it_blocks_a_file_larger_than_the_rules_allow(workspace):
    PublishingPolicyFactory(workspace=workspace, platform="sandbox", max_file_size_mb=100)
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="photo")
    PostMediaFactory(post=post, asset=MediaAssetFactory(workspace=workspace, original_name="big.png", size=150 * 1024 * 1024))
    post.target_accounts.set([account])
    entry = post_publish(post=post, dry_run=True).entries[0]
    assert entry.status == "blocked"
    assert entry.problems == ["big.png is 150.0 MB; the rules allow at most 100 MB."]
    PublishingPolicy.objects.update(max_file_size_mb=200)
    assert post_publish(post=post, dry_run=True).entries[0].status == "planned"


def test_it_plans_at_the_next_optimal_time_when_the_rules_ask(workspace):
    import_publishing_rules(workspace=workspace, data={"platforms": {"sandbox": {"optimal_times": ["09:00", "18:00"]}}})
    account = SocialAccountFactory(workspace=workspace, timezone="Asia/Tokyo")
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set([account])
    now = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # 10:30 in Tokyo

    entry = post_publish(post=post, dry_run=True, now=now).entries[0]

    assert entry.scheduled_for == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 18:00 in Tokyo


# --- Templates ------------------------------------------------------------------------------------


def test_it_renders_a_template_with_title_description_and_hashtags(workspace):
    policy = PublishingPolicyFactory(
        workspace=workspace,
        platform="instagram",
        caption_template="✨ {title}\n\n📝 {description}\n\n🧵 {composition}\n\n🏷️ {hashtags}",
        required_hashtags=["#saleswhisper"],
    )
    post = PostFactory(workspace=workspace, title="Summer linen")
    caption = "Light and breezy.\nMade with #love\n\n#linen #summer"

    assert render_caption(policy, post, caption) == (
        "✨ Summer linen\n\n📝 Light and breezy.\nMade with #love\n\n🏷️ #linen #summer #saleswhisper"
    )
    facts = ProductFacts(marketplace="wildberries", article=1, title="Платье", composition="лён 100%")
    rendered = render_caption(policy, post, caption, title="Sommerleinen", product=facts)
    assert rendered.startswith("✨ Sommerleinen") and "🧵 лён 100%" in rendered


def test_it_leaves_a_caption_alone_without_a_template(workspace):
    post = PostFactory(workspace=workspace)
    assert render_caption(None, post, "As is #tag") == "As is #tag"
    assert render_caption(PublishingPolicyFactory(workspace=workspace), post, "As is") == "As is"
    assert split_hashtags("Text #inline\n#a #b\n#c") == ("Text #inline", ["#a", "#b", "#c"])


def test_the_api_shows_and_edits_the_switch_optimal_times_and_media_limits(api, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = api()
    created = client.post(
        "/api/v1/policies/",
        {"platform": "tiktok", "enabled": False, "use_optimal_times": True, "max_file_size_mb": 100, "min_video_quality": 720},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["enabled"], body["use_optimal_times"], body["max_file_size_mb"], body["min_video_quality"]) == (
        False,
        True,
        100,
        720,
    )
    bad = client.patch(f"/api/v1/policies/{body['id']}/", {"min_video_duration_s": 60, "max_video_duration_s": 15}, format="json")
    assert bad.status_code == 400
    assert "max_video_duration_s" in bad.json()["min_video_duration_s"][0]
