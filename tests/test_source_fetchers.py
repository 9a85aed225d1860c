"""The watched-source fetchers (platforms.feeds) against the platforms' loopback emulators:
the first poll starts from now, new posts come oldest first exactly once across polls, paging,
pinned posts, reposts and ads, media URLs and links, the account's proxy, the errors an
operator sees, and the options check the sources app runs.

Fetchers are a library of plain data: these tests give them AccountSnapshot values built by
hand and no database, as the platform contract tests do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from platforms import base
from platforms.feeds import FetchRequest, get_fetcher, has_fetcher
from platforms.feeds.vk_wall import VkWallFetcher
from platforms.http import DEFAULT_USER_AGENT

from .emulators.proxies import HttpProxy
from .emulators.vk import VkEmulator
from .emulators.youtube import YouTubeEmulator

# --- VK wall ---------------------------------------------------------------------------------------

VK_TOKEN = "vk1.a.readerSecretToken_never-leaks_0123456789"
READER, GROUP = 100, 1


@pytest.fixture
def vk(settings, monkeypatch):
    monkeypatch.setattr(VkWallFetcher, "call_interval", 0)  # VK's 3 requests/s do not apply to the emulator
    with VkEmulator() as emulator:
        settings.VK_API_BASE_URL = f"{emulator.url}/method"
        emulator.add_user(READER, VK_TOKEN)
        emulator.add_group(GROUP, "Source Community", "sourceclub")
        yield emulator


def vk_account(**fields) -> base.AccountSnapshot:
    return base.AccountSnapshot(id=7, platform="vk", credentials={"access_token": VK_TOKEN}, **fields)


def vk_poll(options: dict, cursor: dict | None = None, *, limit: int = 50, account=None):
    request = FetchRequest(options=options, cursor=cursor or {}, account=account or vk_account(), limit=limit)
    return get_fetcher("vk_wall").fetch_new(request)


def wall_gets(vk) -> list[dict]:
    return [{k: v[0] for k, v in r.form.items()} for r in vk.requests if r.path == "/method/wall.get"]


class TestVkWall:
    def test_it_is_registered_as_the_vk_wall_kind_read_through_a_vk_account(self):
        assert has_fetcher("vk_wall")
        assert get_fetcher("vk_wall").needs_account == "vk"

    def test_it_starts_from_now_on_the_first_poll(self, vk):
        vk.add_wall_post(-GROUP, "old")
        newest = vk.add_wall_post(-GROUP, "newest so far")

        result = vk_poll({"owner_id": -GROUP})

        assert result.items == []
        assert result.cursor == {"last_id": newest["id"], "last_date": newest["date"]}

    def test_it_starts_from_now_on_an_empty_wall_and_then_takes_its_first_post(self, vk):
        first = vk_poll({"owner_id": -GROUP})
        post = vk.add_wall_post(-GROUP, "the very first")
        second = vk_poll({"owner_id": -GROUP}, first.cursor)
        assert (first.items, first.cursor) == ([], {"last_id": 0, "last_date": 0})
        assert [item.remote_id for item in second.items] == [f"-{GROUP}_{post['id']}"]

    def test_it_backfills_the_latest_posts_when_asked(self, vk):
        for n in range(5):
            vk.add_wall_post(-GROUP, f"post {n}")
        result = vk_poll({"owner_id": -GROUP, "backfill": 2})
        assert [item.text for item in result.items] == ["post 3", "post 4"]

    def test_it_returns_new_posts_oldest_first_exactly_once(self, vk):
        vk.add_wall_post(-GROUP, "before")
        cursor = vk_poll({"owner_id": -GROUP}).cursor
        vk.add_wall_post(-GROUP, "one")
        vk.add_wall_post(-GROUP, "two")

        first = vk_poll({"owner_id": -GROUP}, cursor)
        again = vk_poll({"owner_id": -GROUP}, first.cursor)
        vk.add_wall_post(-GROUP, "three")
        third = vk_poll({"owner_id": -GROUP}, again.cursor)

        assert [item.text for item in first.items] == ["one", "two"]
        assert again.items == [] and again.cursor == first.cursor
        assert [item.text for item in third.items] == ["three"]

    def test_it_pages_back_to_the_cursor_and_hands_out_at_most_the_limit(self, vk):
        cursor = vk_poll({"owner_id": -GROUP}).cursor
        posts = [vk.add_wall_post(-GROUP, f"post {n}") for n in range(230)]

        first = vk_poll({"owner_id": -GROUP}, cursor, limit=200)
        rest = vk_poll({"owner_id": -GROUP}, first.cursor, limit=200)

        assert [i.text for i in first.items + rest.items] == [p["text"] for p in posts]
        assert len(first.items) == 200 and first.cursor["last_id"] == posts[199]["id"]
        assert [(g["offset"], g["count"]) for g in wall_gets(vk)[1:4]] == [("0", "100"), ("100", "100"), ("200", "100")]

    def test_it_never_returns_an_old_pinned_post_again(self, vk):
        vk.add_wall_post(-GROUP, "pinned long ago", is_pinned=True)
        vk.add_wall_post(-GROUP, "latest")
        cursor = vk_poll({"owner_id": -GROUP}).cursor
        assert cursor["last_id"] == max(p["id"] for p in vk.walls[-GROUP])

        vk.add_wall_post(-GROUP, "new")
        result = vk_poll({"owner_id": -GROUP}, cursor)

        assert [item.text for item in result.items] == ["new"]
        assert wall_gets(vk)[-1]["filter"] == "owner"

    def test_it_reads_photos_links_reposts_and_ads(self, vk):
        cursor = vk_poll({"domain": "sourceclub"}).cursor
        original = vk.add_wall_post(-42, "the original", photos=1)
        repost = vk.add_wall_post(-GROUP, "look at this", copy_history=[original])
        ad = vk.add_wall_post(-GROUP, "buy now", photos=2, links=("https://shop.example/item",), marked_as_ads=True)

        shared, advert = vk_poll({"domain": "sourceclub"}, cursor).items

        assert shared.remote_id == f"-{GROUP}_{repost['id']}"
        assert shared.link == f"https://vk.com/wall-{GROUP}_{repost['id']}"
        assert shared.text == "look at this\n\nthe original"
        assert shared.is_repost and not shared.is_ad
        assert shared.media_urls == (original["attachments"][0]["photo"]["sizes"][1]["url"],)
        assert advert.is_ad and not advert.is_repost
        assert advert.text == "buy now\n\nhttps://shop.example/item"
        assert [url.rsplit("_", 1)[1] for url in advert.media_urls] == ["w.jpg", "w.jpg"]  # the 2560 px size
        assert advert.published_at == datetime.fromtimestamp(ad["date"], UTC)
        assert all(g["domain"] == "sourceclub" and "owner_id" not in g for g in wall_gets(vk))

    def test_it_calls_wall_get_with_the_accounts_token_and_an_honest_user_agent(self, vk):
        vk_poll({"owner_id": -GROUP})
        (request,) = [r for r in vk.requests if r.path == "/method/wall.get"]
        assert request.method == "POST" and not request.query  # the token in the body, never in a URL
        assert request.form["access_token"] == [VK_TOKEN] and request.form["v"] == ["5.199"]
        assert request.headers["User-Agent"] == DEFAULT_USER_AGENT

    def test_it_goes_through_the_accounts_proxy(self, vk):
        with HttpProxy(credentials=("proxyuser", "proxy-secret")) as proxy:
            vk_poll({"owner_id": -GROUP}, account=vk_account(proxy_url=proxy.url()))
        assert [relay.target for relay in proxy.relays] == [vk.url.removeprefix("http://")]
        assert proxy.relays[0].path == "/method/wall.get"
        assert proxy.relays[0].credentials == ("proxyuser", "proxy-secret")

    def test_it_fails_with_proxy_failed_when_the_proxy_is_dead(self, vk):
        proxy = HttpProxy().start()
        url = proxy.url()
        proxy.kill()
        with pytest.raises(base.ProxyFailed):
            vk_poll({"owner_id": -GROUP}, account=vk_account(proxy_url=url))
        assert not vk.requests

    @pytest.mark.parametrize(
        ("setup", "options", "error", "words"),
        [
            (lambda vk: vk.close_wall(GROUP), {"owner_id": -GROUP}, base.PermissionDenied, "closed to the token's user"),
            (lambda vk: vk.add_user(5, is_closed=True), {"owner_id": 5}, base.PermissionDenied, "profile is private"),
            (lambda vk: vk.add_user(6, deactivated="banned"), {"owner_id": 6}, base.PermissionDenied, "deleted or banned"),
            (lambda vk: None, {"domain": "nosuchwall"}, base.PermissionDenied, "check the source's owner_id or domain"),
            (lambda vk: vk.fail_next(5), {"owner_id": -GROUP}, base.AuthRequired, "new user access token"),
            (lambda vk: vk.fail_next(6), {"owner_id": -GROUP}, base.RateLimited, "Too many requests"),
            (lambda vk: vk.fail_next(9), {"owner_id": -GROUP}, base.QuotaExceeded, "Flood control"),
            (lambda vk: vk.fail_next({"http": 502}), {"owner_id": -GROUP}, base.Transient, "HTTP 502"),
        ],
    )
    def test_it_maps_vk_errors(self, vk, setup, options, error, words):
        setup(vk)
        with pytest.raises(error) as raised:
            vk_poll(options, {"last_id": 0, "last_date": 0})
        assert type(raised.value) is error  # not AccessLost: a wall we cannot read says nothing of the account
        assert words in raised.value.message
        assert VK_TOKEN not in raised.value.message and VK_TOKEN not in str(raised.value.raw)

    def test_a_member_reads_a_closed_community(self, vk):
        vk.close_wall(GROUP, members=(READER,))
        vk.add_wall_post(-GROUP, "members only")
        assert [i.text for i in vk_poll({"owner_id": -GROUP}, {"last_id": 0}).items] == ["members only"]

    def test_it_needs_an_account(self, vk):
        with pytest.raises(base.AuthRequired):
            get_fetcher("vk_wall").fetch_new(FetchRequest(options={"owner_id": -GROUP}))

    @pytest.mark.parametrize(
        ("options", "words"),
        [
            ({}, "Give either options.owner_id"),
            ({"owner_id": -1, "domain": "club1"}, "Give either options.owner_id"),
            ({"owner_id": "abc"}, "options.owner_id must be"),
            ({"owner_id": 0}, "options.owner_id must be"),
            ({"domain": "not a domain!"}, "options.domain must be"),
            ({"owner_id": -1, "backfill": 500}, "options.backfill"),
            ({"owner_id": -1, "colour": "red"}, "Unknown options for a VK wall: colour"),
        ],
    )
    def test_it_explains_bad_options(self, options, words):
        errors = get_fetcher("vk_wall").options_errors(options)
        assert list(errors) == ["options"] and words in errors["options"]

    @pytest.mark.parametrize("options", [{"owner_id": -1}, {"owner_id": "123"}, {"domain": "durov", "backfill": 5}])
    def test_it_accepts_good_options(self, options):
        assert get_fetcher("vk_wall").options_errors(options) == {}


# --- YouTube uploads ---------------------------------------------------------------------------------

YT_REFRESH, YT_CLIENT, YT_SECRET = "1//refresh-secret-token", "client-1.apps.googleusercontent.com", "GOCSPX-client-secret"


@pytest.fixture
def yt(settings):
    with YouTubeEmulator() as emulator:
        settings.YOUTUBE_API_BASE_URL = emulator.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{emulator.url}/token"
        emulator.own = emulator.add_channel(refresh_token=YT_REFRESH, client_id=YT_CLIENT, client_secret=YT_SECRET)
        emulator.other = emulator.add_channel(refresh_token="1//other", client_id=YT_CLIENT, client_secret=YT_SECRET)
        yield emulator


def yt_account(stored: dict | None = None, *, refresh: str = YT_REFRESH, **fields) -> base.AccountSnapshot:
    """A YouTube account; ``stored`` receives what a token renewal stores (under the caller's lock)."""
    credentials = {"refresh_token": refresh, "client_id": YT_CLIENT, "client_secret": YT_SECRET}
    stored = {} if stored is None else stored

    def update_credentials(renew):
        current = {**credentials, **stored}
        stored.update(renew(current) or {})
        return {**credentials, **stored}

    return base.AccountSnapshot(
        id=8, platform="youtube", credentials=credentials, update_credentials=update_credentials, **fields
    )


def yt_poll(options: dict, cursor: dict | None = None, *, limit: int = 50, account=None):
    request = FetchRequest(options=options, cursor=cursor or {}, account=account or yt_account(), limit=limit)
    return get_fetcher("youtube").fetch_new(request)


def at(minute: int) -> datetime:
    return datetime(2026, 12, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minute)


def yt_calls(yt, resource: str) -> list[dict]:
    return [{k: v[0] for k, v in r.query.items()} for r in yt.requests if r.path == f"/youtube/v3/{resource}"]


class TestYouTubeUploads:
    def test_it_is_registered_as_the_youtube_kind_read_through_a_youtube_account(self):
        assert get_fetcher("youtube").needs_account == "youtube"

    def test_it_starts_from_now_and_keeps_the_uploads_playlist_in_the_cursor(self, yt):
        yt.add_upload(yt.other, "Old", published_at=at(0))
        newest = yt.add_upload(yt.other, "Newest", published_at=at(1))

        result = yt_poll({"channel_id": yt.other["id"]})

        assert result.items == []
        assert result.cursor == {
            "channel": yt.other["id"],
            "uploads": yt.other["uploads"],
            "last_id": newest["id"],
            "last_added": "2026-12-01T12:01:00Z",
        }
        assert yt_calls(yt, "channels") == [{"part": "contentDetails", "id": yt.other["id"]}]

    def test_it_returns_new_videos_oldest_first_exactly_once(self, yt):
        yt.add_upload(yt.other, "Before", published_at=at(0))
        cursor = yt_poll({"channel_id": yt.other["id"]}).cursor
        first_video = yt.add_upload(yt.other, "First", "What it is about", published_at=at(5))
        yt.add_upload(yt.other, "Second", published_at=at(6))

        first = yt_poll({"channel_id": yt.other["id"]}, cursor)
        again = yt_poll({"channel_id": yt.other["id"]}, first.cursor)

        assert [item.text for item in first.items] == ["First\n\nWhat it is about", "Second"]
        item = first.items[0]
        assert item.remote_id == first_video["id"]
        assert item.link == f"https://www.youtube.com/watch?v={first_video['id']}"
        assert item.media_urls == (f"https://i.ytimg.com/vi/{first_video['id']}/maxres.jpg",)
        assert item.published_at == at(5)
        assert again.items == [] and again.cursor == first.cursor
        assert len(yt_calls(yt, "channels")) == 1  # the uploads playlist came from the cursor afterwards

    def test_it_pages_with_page_tokens_and_hands_out_at_most_the_limit(self, yt):
        cursor = yt_poll({"channel_id": yt.other["id"]}).cursor
        videos = [yt.add_upload(yt.other, f"Video {n}", published_at=at(n)) for n in range(120)]

        first = yt_poll({"channel_id": yt.other["id"]}, cursor, limit=100)
        rest = yt_poll({"channel_id": yt.other["id"]}, first.cursor, limit=100)

        assert [i.remote_id for i in first.items + rest.items] == [v["id"] for v in videos]
        pages = yt_calls(yt, "playlistItems")[1:4]
        assert [p["maxResults"] for p in pages] == ["50", "50", "50"]
        assert "pageToken" not in pages[0] and pages[1]["pageToken"] and pages[2]["pageToken"] != pages[1]["pageToken"]

    def test_it_backfills_and_reads_the_accounts_own_channel_without_its_private_videos(self, yt):
        yt.add_upload(yt.own, "Public one", published_at=at(0))
        yt.add_upload(yt.own, "Private draft", published_at=at(1), privacy="private")
        yt.add_upload(yt.own, "Public two", published_at=at(2))

        result = yt_poll({"backfill": 3})

        assert [item.text for item in result.items] == ["Public one", "Public two"]
        assert yt_calls(yt, "channels") == [{"part": "contentDetails", "mine": "true"}]

    def test_it_stops_at_an_older_video_when_the_last_one_was_deleted(self, yt):
        yt.add_upload(yt.other, "Kept", published_at=at(0))
        gone = yt.add_upload(yt.other, "Deleted later", published_at=at(1))
        cursor = yt_poll({"channel_id": yt.other["id"]}).cursor
        del yt.videos[gone["id"]]
        yt.add_upload(yt.other, "New", published_at=at(2))
        assert [item.text for item in yt_poll({"channel_id": yt.other["id"]}, cursor).items] == ["New"]

    def test_it_renews_the_access_token_and_hands_it_to_the_caller(self, yt):
        stored: dict = {}
        yt_poll({}, account=yt_account(stored))
        assert stored["access_token"].startswith("ya29.") and stored["access_token_expires_at"]

    def test_it_goes_through_the_accounts_proxy(self, yt):
        with HttpProxy() as proxy:
            yt_poll({"channel_id": yt.other["id"]}, account=yt_account(proxy_url=proxy.url()))
        assert [relay.path.split("?")[0] for relay in proxy.relays] == [
            "/token",
            "/youtube/v3/channels",
            "/youtube/v3/playlistItems",
        ]

    @pytest.mark.parametrize(
        ("failure", "error", "words"),
        [
            (
                {"endpoint": "playlistItems", "status": 403, "reason": "quotaExceeded", "message": "Quota."},
                base.QuotaExceeded,
                "daily YouTube quota",
            ),
            ({"endpoint": "playlistItems", "status": 429, "reason": "rateLimitExceeded"}, base.RateLimited, "rateLimit"),
            (
                {"endpoint": "playlistItems", "status": 403, "reason": "insufficientPermissions"},
                base.PermissionDenied,
                "youtube.readonly",
            ),
            ({"endpoint": "channels", "status": 500, "reason": "backendError"}, base.Transient, "backendError"),
            ({"endpoint": "token", "status": 400, "reason": "invalid_grant"}, base.AuthRequired, "re-consent"),
        ],
    )
    def test_it_maps_youtube_errors(self, yt, failure, error, words):
        yt.fail_next(failure)
        with pytest.raises(error) as raised:
            yt_poll({"channel_id": yt.other["id"]})
        assert words in raised.value.message
        assert YT_SECRET not in str(raised.value.raw) and YT_REFRESH not in raised.value.message

    def test_it_says_when_the_channel_does_not_exist(self, yt):
        with pytest.raises(base.PermissionDenied, match="no YouTube channel has the id UCnosuchchannel0000000000"):
            yt_poll({"channel_id": "UCnosuchchannel0000000000"})

    def test_it_says_when_the_cached_uploads_playlist_is_gone(self, yt):
        cursor = {"channel": "mine", "uploads": "UUgone", "last_id": "", "last_added": ""}
        with pytest.raises(base.PermissionDenied, match="uploads cannot be found"):
            yt_poll({}, cursor)

    def test_it_fails_when_the_refresh_token_was_revoked(self, yt):
        with pytest.raises(base.AuthRequired, match="invalid_grant"):
            yt_poll({}, account=yt_account(refresh="1//revoked"))

    @pytest.mark.parametrize(
        ("options", "words"),
        [
            ({"channel_id": "not-a-channel"}, "options.channel_id must be"),
            ({"channel_id": "UC123"}, "options.channel_id must be"),
            ({"backfill": -1}, "options.backfill"),
            ({"playlist": "x"}, "Unknown options for a YouTube channel: playlist"),
        ],
    )
    def test_it_explains_bad_options(self, options, words):
        errors = get_fetcher("youtube").options_errors(options)
        assert list(errors) == ["options"] and words in errors["options"]

    @pytest.mark.parametrize("options", [{}, {"channel_id": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "backfill": 3}])
    def test_it_accepts_good_options(self, options):
        assert get_fetcher("youtube").options_errors(options) == {}
