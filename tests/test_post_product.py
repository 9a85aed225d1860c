# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""The product a post names, as the post page, the post API and the post admin show it: the
facts enrichment cached, or "no product facts: <reason>" when the marketplace refused —
read from the cache, so showing a post never calls a marketplace."""

import pytest
from django.urls import reverse

from accounts.models import Role
from products.services import lookup

from .factories import PostFactory, UserFactory
from .translations_support import wb_api  # noqa: F401

pytestmark = pytest.mark.django_db
PRODUCT = {"marketplace": "wildberries", "article": 123456}


@pytest.fixture
def post(workspace):
    return PostFactory(workspace=workspace, options={"product": PRODUCT})


def test_a_refusing_marketplace_shows_as_the_reason_there_are_no_facts(client, api, member, post, wb_api):
    wb_api.fail_next(403)
    assert lookup(PRODUCT).facts is None  # what publishing did: the refusal is remembered
    asked = len(wb_api.requests)
    client.force_login(member(Role.VIEWER))

    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    data = api(Role.VIEWER).get(f"/api/v1/posts/{post.pk}/").json()["product"]

    note = "no product facts: the marketplace refused the request (anti-bot check)"
    assert 'data-testid="product-note"' in page and note in page
    assert data == {"marketplace": "wildberries", "article": 123456, "fetched": True, "facts": None, "note": note}
    assert len(wb_api.requests) == asked  # neither page asked the marketplace again


def test_cached_facts_show_with_their_title_and_price(client, api, member, post, wb_api):
    lookup(PRODUCT)
    client.force_login(member(Role.VIEWER))

    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    data = api(Role.VIEWER).get(f"/api/v1/posts/{post.pk}/").json()["product"]

    assert "Платье миди из льна" in page and "Acme" in page and "4990 ₽" in page
    assert (data["facts"]["title"], data["facts"]["price"], data["note"]) == ("Платье миди из льна", 4990.0, "")
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    admin_page = client.get(reverse("admin:posts_post_change", args=[post.pk])).content.decode()
    assert "Wildberries 123456: Платье миди из льна · Acme · 4990 ₽" in admin_page


def test_a_product_never_looked_up_asks_nobody(client, member, post, wb_api):
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert 'data-testid="product"' in page and "Wildberries 123456" in page and "no product facts" not in page
    assert wb_api.requests == []
    plain = PostFactory(workspace=post.workspace)
    assert 'data-testid="product"' not in client.get(reverse("dashboard:post", args=[plain.pk])).content.decode()


def test_a_page_of_posts_reads_their_products_in_one_query(api, workspace, wb_api, django_assert_max_num_queries):
    """The list's product field costs one query for the page, not one per post."""
    for article in (111, 222, 333, 444):
        lookup({"marketplace": "wildberries", "article": article})
        PostFactory(workspace=workspace, options={"product": {"marketplace": "wildberries", "article": article}})
    client = api(Role.VIEWER)
    client.get("/api/v1/posts/")  # warm the session and permission caches
    with django_assert_max_num_queries(12) as captured:
        rows = client.get("/api/v1/posts/").json()["results"]
    product_reads = [q for q in captured.captured_queries if 'FROM "products_product"' in q["sql"]]
    assert len(product_reads) == 1
    assert sorted(row["product"]["article"] for row in rows if row["product"]) == [111, 222, 333, 444]
