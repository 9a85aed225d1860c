"""platforms.limits.metadata_problems: a video's metadata checked per platform without a request,
against the adapters' own limits (what the studio checks when an output preset is saved)."""

import pytest

from platforms import instagram, pinterest, telegram, tiktok, vk, youtube
from platforms.limits import caption_text, metadata_problems

FINE = {"title": "Weekly seminar", "description": "The recording.", "tags": [], "privacy": "", "category": "", "playlist": ""}


def problems(platform, **fields):
    return metadata_problems(platform, **{**FINE, **fields})


@pytest.mark.parametrize("platform", ["youtube", "vk", "telegram", "instagram", "tiktok", "pinterest", "sandbox"])
def test_it_accepts_a_plain_title_and_description_everywhere(platform):
    assert problems(platform) == []


class TestYouTube:
    def test_it_accepts_what_youtube_accepts(self):
        full = {
            "title": "t" * youtube.TITLE_LIMIT,
            "description": "é" * (youtube.DESCRIPTION_LIMIT_BYTES // 2),  # 5000 bytes
            "tags": ["seminar", "weekly recording"],
            "privacy": "unlisted",
            "category": "27",
            "playlist": "PL1234567890ABCDEF",
        }
        assert problems("youtube", **full) == []
        assert problems("youtube", title="", description="First line becomes the title\nmore") == []

    def test_it_counts_the_description_in_bytes_after_angle_brackets_are_replaced(self):
        assert problems("youtube", description="é" * 2501) == [
            "The description is 5002 bytes (UTF-8; < and > count as ‹ ›); YouTube allows 5000."
        ]
        # "<" is one byte, but YouTube refuses it: the adapter sends "‹", three bytes.
        assert problems("youtube", description="<" * 1700) == [
            "The description is 5100 bytes (UTF-8; < and > count as ‹ ›); YouTube allows 5000."
        ]

    def test_it_refuses_what_youtube_refuses(self):
        assert problems("youtube", title="t" * 101) == ["The title has 101 characters; YouTube allows 100."]
        assert problems("youtube", title="", description="") == [
            "A YouTube video needs a title: write one, or a description whose first line becomes it."
        ]
        assert problems("youtube", privacy="friends") == [
            "Privacy 'friends' is not YouTube's: use one of private, unlisted, public."
        ]
        (category,) = problems("youtube", category="Education")
        assert category.startswith("category_id 'Education' is not a YouTube category id")
        (playlist,) = problems("youtube", playlist="my playlist")
        assert playlist.startswith("playlist_id 'my playlist' is not a YouTube playlist id")

    def test_it_keeps_room_in_the_tags_for_the_marker(self):
        room = youtube.TAGS_LIMIT - len("cp-0000000000") - 1
        assert problems("youtube", tags=["a" * room]) == []
        assert problems("youtube", tags=["a" * (room + 1)]) == [
            f"The tags take {room + 1} characters (commas count, a tag with spaces counts its quotes); "
            f"YouTube allows {room} here (Crosspost adds a tag of its own)."
        ]
        assert youtube.tags_length(["two words", "x"]) == 11 + 1 + 1


class TestVk:
    def test_it_checks_the_video_name_album_and_privacy(self):
        assert problems("vk", title="t" * vk.VIDEO_NAME_LIMIT, privacy="friends", playlist="45") == []
        assert problems("vk", title="t" * (vk.VIDEO_NAME_LIMIT + 1)) == [
            f"The title has {vk.VIDEO_NAME_LIMIT + 1} characters; a VK video's name allows {vk.VIDEO_NAME_LIMIT}."
        ]
        (privacy,) = problems("vk", privacy="public")
        assert privacy.startswith("privacy_view 'public' must be one of all, friends")
        (album,) = problems("vk", playlist="PL1234567890ABCDEF")
        assert album.startswith("album_id 'PL1234567890ABCDEF' is not a VK video album id")

    def test_it_measures_the_wall_post(self):
        (long,) = problems("vk", description="d" * vk.MESSAGE_LIMIT)
        assert long == f"Title and description make {vk.MESSAGE_LIMIT + 16} characters; a VK post allows {vk.MESSAGE_LIMIT}."

    def test_it_refuses_settings_vk_videos_do_not_have(self):
        assert problems("vk", tags=["seminar"], category="27") == [
            "VK has no tags setting for a video: leave tags empty.",
            "VK has no category setting for a video: leave category empty.",
        ]


class TestCaptionPlatforms:
    def test_telegram_takes_a_1024_character_caption_under_a_video(self):
        title = "Weekly seminar"
        fits = "d" * (telegram.CAPTION_LIMIT - len(title) - 2)
        assert len(caption_text(title, fits)) == telegram.CAPTION_LIMIT
        assert problems("telegram", title=title, description=fits) == []
        assert problems("telegram", title=title, description=fits + "d") == [
            "Title and description make a caption of 1025 characters; Telegram allows 1024."
        ]

    def test_instagram_counts_the_caption_and_its_hashtags(self):
        assert problems("instagram", title="", description="d" * (instagram.CAPTION_LIMIT + 1)) == [
            f"Title and description make a caption of {instagram.CAPTION_LIMIT + 1} characters; Instagram allows 2200."
        ]
        assert problems("instagram", description=" ".join(f"#t{i}" for i in range(31))) == [
            "The caption has 31 hashtags; Instagram allows 30."
        ]

    def test_tiktok_counts_utf16_and_knows_its_privacy_levels(self):
        emoji = "😀" * (tiktok.TITLE_LIMIT // 2)  # two UTF-16 units each
        assert problems("tiktok", title="", description=emoji, privacy="SELF_ONLY") == []
        (long,) = problems("tiktok", title="", description=emoji + "x")
        assert long == "Title and description make a caption of 2201 characters; TikTok allows 2200."
        (privacy,) = problems("tiktok", privacy="private")
        assert privacy.startswith("Privacy 'private' is not TikTok's: use one of PUBLIC_TO_EVERYONE")

    def test_pinterest_has_a_title_and_a_description(self):
        assert problems(
            "pinterest", title="t" * (pinterest.TITLE_LIMIT + 1), description="d" * (pinterest.DESCRIPTION_LIMIT + 1)
        ) == [
            "The title has 101 characters; a Pin title allows 100.",
            "The description has 801 characters; a Pin description allows 800.",
        ]

    @pytest.mark.parametrize("platform", ["telegram", "instagram", "pinterest", "sandbox"])
    def test_they_refuse_settings_they_do_not_have(self, platform):
        found = problems(platform, tags=["a"], privacy="public", category="27", playlist="PL1234567890ABCDEF")
        assert [p.split(" has no ")[1] for p in found] == [
            "tags setting for a video: leave tags empty.",
            "privacy setting for a video: leave privacy empty.",
            "category setting for a video: leave category empty.",
            "playlist setting for a video: leave playlist empty.",
        ]


def test_it_names_the_platforms_it_knows_for_an_unknown_one():
    assert metadata_problems("mastodon", title="", description="", tags=[], privacy="", category="", playlist="") == [
        "unknown platform 'mastodon': use one of instagram, pinterest, sandbox, telegram, tiktok, vk, youtube."
    ]
