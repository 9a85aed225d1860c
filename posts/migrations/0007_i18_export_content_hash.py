"""Fill Post.content_hash (the duplicate warning's fingerprint) for the posts made before it existed.

A frozen copy of ``posts.services.hash_content``: a migration must compute what the code of its
time computed, whatever the service becomes later. Batches of BATCH posts, each read with its
media in two queries and written with one bulk update, so memory stays flat on a big table; a
post already hashed is skipped, so running it again (or after a partial run) does nothing twice.
"""

import hashlib

from django.db import migrations

BATCH = 500


def hash_content(caption, media_sha256):
    digest = hashlib.sha256(" ".join((caption or "").split()).casefold().encode())
    for sha in media_sha256:
        digest.update(b"\0" + sha.encode())
    return digest.hexdigest()


def fill_content_hash(apps, schema_editor):
    Post = apps.get_model("posts", "Post")
    PostMedia = apps.get_model("posts", "PostMedia")
    last = 0
    while True:
        posts = list(Post.objects.filter(pk__gt=last, content_hash="").order_by("pk").only("pk", "caption")[:BATCH])
        if not posts:
            return
        media = {}
        rows = PostMedia.objects.filter(post_id__in=[p.pk for p in posts]).order_by("post_id", "position")
        for post_id, sha in rows.values_list("post_id", "asset__sha256"):
            media.setdefault(post_id, []).append(sha)
        for post in posts:
            post.content_hash = hash_content(post.caption, media.get(post.pk, []))
        Post.objects.bulk_update(posts, ["content_hash"], batch_size=BATCH)
        last = posts[-1].pk


class Migration(migrations.Migration):
    dependencies = [("posts", "0006_approval_repetitions_queue")]

    operations = [migrations.RunPython(fill_content_hash, migrations.RunPython.noop, elidable=True)]
