"""Content rules from a publishing_rules YAML, and caption templates."""

import pytest
from django.core.management import CommandError, call_command

from crosspost.models import ActivityLog
from products.services import ProductFacts
from publishing.caption_templates import render_caption, split_hashtags
from publishing.models import PublishingPolicy

from .factories import PostFactory, PublishingPolicyFactory

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
    err = capsys.readouterr().err
    assert "platforms.telegram.channels: ignored" in err and "content_rules.max_file_size: ignored" in err


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
