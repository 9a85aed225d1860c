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
from platforms.instagram import private

from .emulators.instagram_graph import InstagramGraphEmulator
from .emulators.instagram_private import InstagramPrivateEmulator
from .emulators.proxies import HttpProxy
from .emulators.vk import VkEmulator
from .emulators.youtube import YouTubeEmulator
from .test_instagram import no_sleep

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


# --- Instagram: Graph API -----------------------------------------------------------------------------

IG_USER_ID, IG_TOKEN = "17841400000000001", "EAAGraphSecretToken0123456789"


@pytest.fixture
def meta(settings):
    with InstagramGraphEmulator() as emulator:
        settings.INSTAGRAM_GRAPH_BASE_URL = emulator.base_url
        emulator.add_account(IG_USER_ID, IG_TOKEN, "brand")
        yield emulator


def graph_account(**fields) -> base.AccountSnapshot:
    return base.AccountSnapshot(
        id=9,
        platform="instagram",
        handle="brand",
        credentials={"access_token": IG_TOKEN},
        options={"ig_user_id": IG_USER_ID},
        **fields,
    )


def ig_poll(options: dict, cursor: dict | None = None, *, account, limit: int = 50):
    request = FetchRequest(options=options, cursor=cursor or {}, account=account, limit=limit)
    return get_fetcher("instagram").fetch_new(request)


def media_lists(meta) -> list[dict]:
    return [{k: v[0] for k, v in r.query.items()} for r in meta.calls("GET", "/media")]


class TestInstagramGraph:
    def test_it_starts_from_now_then_returns_new_posts_oldest_first_exactly_once(self, meta):
        meta.add_published(IG_USER_ID, caption="old", when=at(0))
        cursor = ig_poll({}, account=graph_account()).cursor
        assert cursor["last_at"] == at(0).isoformat()
        meta.add_published(IG_USER_ID, caption="one", when=at(5))
        meta.add_published(IG_USER_ID, caption="two", when=at(6))

        first = ig_poll({}, cursor, account=graph_account())
        again = ig_poll({}, first.cursor, account=graph_account())

        assert [item.text for item in first.items] == ["one", "two"]
        assert again.items == [] and again.cursor == first.cursor
        assert media_lists(meta)[0]["fields"] == (
            "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,children{media_url,media_type}"
        )

    def test_it_reads_photos_videos_and_carousels_in_order(self, meta):
        cursor = ig_poll({}, account=graph_account()).cursor
        photo = meta.add_published(IG_USER_ID, caption="a photo", when=at(1))
        video = meta.add_published(IG_USER_ID, caption="a reel", when=at(2), kind="VIDEO", product="REELS")
        album = meta.add_published(IG_USER_ID, caption="", when=at(3), kind="CAROUSEL_ALBUM", children=("IMAGE", "VIDEO"))

        items = ig_poll({}, cursor, account=graph_account()).items

        assert [item.remote_id for item in items] == [photo.id, video.id, album.id]
        assert items[0].media_urls == (photo.media_url,) and items[0].link == photo.permalink
        assert items[1].media_urls == (video.media_url,) and video.media_url.endswith(".mp4")
        assert items[2].media_urls == tuple(url for _id, _kind, url in album.children)
        assert items[2].text == "" and items[2].published_at == at(3)

    def test_it_pages_with_after_cursors(self, meta):
        cursor = ig_poll({}, account=graph_account()).cursor
        posts = [meta.add_published(IG_USER_ID, caption=f"post {n}", when=at(n + 1)) for n in range(120)]

        result = ig_poll({}, cursor, account=graph_account(), limit=200)

        assert [item.remote_id for item in result.items] == [p.id for p in posts]
        lists = media_lists(meta)[1:]
        assert len(lists) == 3 and "after" not in lists[0] and lists[1]["after"] != lists[2]["after"]

    def test_a_graph_account_reads_only_itself(self, meta):
        with pytest.raises(base.PermissionDenied, match="reads only its own posts"):
            ig_poll({"username": "someone_else"}, account=graph_account())

    @pytest.mark.parametrize(
        ("code", "subcode", "error", "words"),
        [
            (190, 463, base.AuthRequired, "no longer works"),
            (4, None, base.RateLimited, "throttling"),
            (10, None, base.PermissionDenied, "needs instagram_basic"),
            (2, None, base.Transient, "Graph API failed"),
        ],
    )
    def test_it_maps_graph_errors(self, meta, code, subcode, error, words):
        meta.fail("list", code, subcode, status=500 if code == 2 else 400)
        with pytest.raises(error, match=words):
            ig_poll({}, account=graph_account())

    def test_it_goes_through_the_accounts_proxy(self, meta):
        with HttpProxy() as proxy:
            ig_poll({}, account=graph_account(proxy_url=proxy.url()))
        assert [relay.path.split("?")[0] for relay in proxy.relays] == [f"/v21.0/{IG_USER_ID}/media"]


# --- Instagram: private API ---------------------------------------------------------------------------

IG_PASSWORD = "ig-password-Secret-1"
DEVICE = "android-0123456789abcdef"
APP_UA = "Instagram 269.0.0.18.75 Android (31/12; 420dpi; 1080x2400; Google; Pixel 6; oriole; gs101; en_US; 314665256)"


@pytest.fixture
def insta(monkeypatch, settings):
    settings.INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS = 0
    no_sleep(monkeypatch)
    with InstagramPrivateEmulator() as emulator:
        monkeypatch.setattr(private, "client_hooks", [emulator.route])
        emulator.reader = emulator.add_user("reader_account", IG_PASSWORD)
        emulator.watched = emulator.add_user("watched.brand", "their-password")
        yield emulator


class Sessions:
    """What the caller would store: the session saved back after every call."""

    def __init__(self) -> None:
        self.session: dict = {}
        self.logins = 0

    def save(self, session: dict, logged_in: bool) -> None:
        self.session = session
        self.logins += int(logged_in)

    def account(self, **fields) -> base.AccountSnapshot:
        return base.AccountSnapshot(
            id=10,
            platform="instagram",
            handle="reader_account",
            credentials={"password": IG_PASSWORD},
            session=self.session,
            device_id=DEVICE,
            user_agent=APP_UA,
            save_session=self.save,
            **fields,
        )


class TestInstagramPrivate:
    def test_it_reads_another_profile_from_now_on_exactly_once(self, insta):
        sessions = Sessions()
        insta.add_media("watched.brand", "old", taken_at=1_700_000_000)
        first = ig_poll({"username": "@watched.brand"}, account=sessions.account())
        insta.add_media("watched.brand", "one", taken_at=1_700_000_100)
        insta.add_media("watched.brand", "two", taken_at=1_700_000_200, kind="video")
        second = ig_poll({"username": "watched.brand"}, first.cursor, account=sessions.account())
        third = ig_poll({"username": "watched.brand"}, second.cursor, account=sessions.account())

        assert first.items == []
        assert first.cursor["user_id"] == insta.watched.pk
        assert [item.text for item in second.items] == ["one", "two"]
        assert third.items == []
        assert sessions.logins == 1 and len(insta.calls("/usernameinfo/")) == 1  # the session and the id are kept

    def test_it_reads_media_urls_links_and_times(self, insta):
        sessions = Sessions()
        cursor = ig_poll({}, account=sessions.account()).cursor
        photo = insta.add_media("reader_account", "a photo", taken_at=1_700_000_100)
        reel = insta.add_media("reader_account", "a reel", kind="video", taken_at=1_700_000_200)
        album = insta.add_media("reader_account", "album", kind="carousel", children=("video", "photo"), taken_at=1_700_000_300)

        items = ig_poll({}, cursor, account=sessions.account()).items

        assert [item.remote_id for item in items] == [photo["pk"], reel["pk"], album["pk"]]
        assert items[0].media_urls == (photo["image_versions2"]["candidates"][0]["url"],)  # 1080 px, not 320
        assert items[0].link == f"https://www.instagram.com/p/{photo['code']}/"
        assert items[1].media_urls == (reel["video_versions"][1]["url"],) and items[1].link.endswith(f"/reel/{reel['code']}/")
        children = album["carousel_media"]
        assert items[2].media_urls == (
            children[0]["video_versions"][1]["url"],
            children[1]["image_versions2"]["candidates"][0]["url"],
        )
        assert items[2].published_at == datetime.fromtimestamp(1_700_000_300, UTC)

    def test_it_skips_old_pinned_posts_and_pages_with_max_id(self, insta):
        sessions = Sessions()
        for n in range(2):
            insta.add_media("watched.brand", f"pinned {n}", taken_at=1_600_000_000 + n, pinned=True)
        insta.add_media("watched.brand", "latest", taken_at=1_700_000_000)
        cursor = ig_poll({"username": "watched.brand"}, account=sessions.account()).cursor
        posts = [insta.add_media("watched.brand", f"post {n}", taken_at=1_700_000_100 + n) for n in range(70)]

        result = ig_poll({"username": "watched.brand"}, cursor, account=sessions.account(), limit=100)

        assert [item.remote_id for item in result.items] == [p["pk"] for p in posts]
        feeds = insta.calls(f"/feed/user/{insta.watched.pk}/")
        assert feeds[1].param("max_id") is None and len(feeds) > 3 and all(r.param("max_id") for r in feeds[2:])

    def test_it_says_a_private_profile_cannot_be_read(self, insta):
        insta.watched.is_private = True
        with pytest.raises(base.PermissionDenied, match=r"@watched\.brand: the profile is private"):
            ig_poll({"username": "watched.brand"}, {"last_at": ""}, account=Sessions().account())

    def test_it_says_an_unknown_username_does_not_exist(self, insta):
        with pytest.raises(base.PermissionDenied, match="no such profile"):
            ig_poll({"username": "nobody_here"}, account=Sessions().account())

    def test_it_maps_throttling(self, insta):
        insta.fail("feed", "throttled")
        with pytest.raises(base.RateLimited):
            ig_poll({}, account=Sessions().account())

    def test_it_logs_in_again_once_when_the_session_is_gone(self, insta):
        sessions = Sessions()
        cursor = ig_poll({}, account=sessions.account()).cursor
        insta.expire_sessions()
        insta.add_media("reader_account", "after relogin", taken_at=int(datetime.now(UTC).timestamp()) + 60)
        assert [i.text for i in ig_poll({}, cursor, account=sessions.account()).items] == ["after relogin"]
        assert sessions.logins == 2

    def test_it_goes_through_the_accounts_proxy(self, insta):
        with HttpProxy(credentials=("proxyuser", "proxy-secret")) as proxy:
            ig_poll({}, account=Sessions().account(proxy_url=proxy.url()))
        assert proxy.relays and {relay.target for relay in proxy.relays} == {insta.url.removeprefix("http://")}
        assert any(relay.path.startswith("/api/v1/feed/user/") for relay in proxy.relays)

    @pytest.mark.parametrize(
        ("options", "words"),
        [
            ({"username": "not a name!"}, "options.username must be"),
            ({"backfill": 99}, "options.backfill"),
            ({"hashtag": "x"}, "Unknown options for an Instagram account: hashtag"),
        ],
    )
    def test_it_explains_bad_options(self, options, words):
        errors = get_fetcher("instagram").options_errors(options)
        assert list(errors) == ["options"] and words in errors["options"]

    def test_it_accepts_good_options(self):
        assert get_fetcher("instagram").options_errors({"username": "@watched.brand", "backfill": 3}) == {}
