"""Media on S3: a real S3-protocol server (moto_server on loopback) behind
django-storages' S3Storage — uploads stored and read back, probing and
rendering from remote originals, renditions written to the bucket, presigned
URLs that work, cleanup deleting the objects."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from media.models import MediaStatus, Rendition
from media.services import asset_render, media_item_for, media_upload, request_renditions
from posts.services import media_cleanup

from .factories import PostFactory, PostMediaFactory
from .support.net import unused_port
from .test_media import face_picture, jpeg_bytes, make_video, upload_now

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto_server on a free loopback port for this module; stopped afterwards."""
    port = unused_port()
    binary = Path(sys.executable).parent / "moto_server"
    server = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint, timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a busy machine
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(moto_endpoint, settings):
    """A fresh bucket, and the default storage switched to S3Storage on it."""
    name = f"crosspost-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS)
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": moto_endpoint,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": CREDENTIALS["region_name"],
                "addressing_style": "path",
                "querystring_expire": 600,
                "signature_version": "s3v4",
                "file_overwrite": False,
            },
        },
    }
    client.bucket_name = name
    return client


def objects(bucket) -> dict[str, bytes]:
    listing = bucket.list_objects_v2(Bucket=bucket.bucket_name).get("Contents", [])
    return {o["Key"]: bucket.get_object(Bucket=bucket.bucket_name, Key=o["Key"])["Body"].read() for o in listing}


def fetch(url: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # straight to loopback, whatever proxy the environment names
        return session.get(url, timeout=10)


def test_it_stores_uploads_in_the_bucket_and_reads_them_back(workspace, bucket, django_capture_on_commit_callbacks):
    data = jpeg_bytes(face_picture((640, 480), face_at=(300, 100), face_height=240))
    asset = upload_now(workspace, data, "photo.jpg", django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY and (asset.width, asset.height) == (640, 480)
    assert objects(bucket) == {asset.file.name: data}
    with asset.file.open("rb") as stored:
        assert stored.read() == data


def test_it_gives_objects_the_sniffed_content_type_whatever_the_upload_claims(
    workspace, bucket, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(Image.new("RGB", (64, 48), (200, 30, 30))) + b"<script>alert(document.cookie)</script>"
    asset, _ = media_upload(workspace=workspace, file=SimpleUploadedFile("x.html", data, content_type="text/html"))
    with django_capture_on_commit_callbacks(execute=False):
        request_renditions(assets=[asset], profiles=["image_1x1"])
    assert asset_render(asset_id=asset.pk).rendered == ["image_1x1"]
    rendition = Rendition.objects.get(asset=asset)

    for name in (asset.file.name, rendition.file.name):
        assert name.endswith(".jpg")
        assert bucket.head_object(Bucket=bucket.bucket_name, Key=name)["ContentType"] == "image/jpeg"
    assert fetch(asset.file.url).headers["Content-Type"] == "image/jpeg"


def test_it_renders_a_remote_video_to_the_bucket_with_working_presigned_urls(
    workspace, bucket, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_X264_PRESET = "superfast"
    data = make_video(tmp_path / "clip.mp4", size=(480, 270), seconds=1.0).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY, asset.error  # probed from a temporary copy of the object
    with django_capture_on_commit_callbacks(execute=False):
        request_renditions(assets=[asset], profiles=["video_9x16", "video_16x9"])
    summary = asset_render(asset_id=asset.pk)
    assert sorted(summary.rendered) == ["video_16x9", "video_9x16"], summary.failed

    stored = objects(bucket)
    for row in Rendition.objects.filter(asset=asset):
        assert row.status == MediaStatus.READY
        assert row.file.name in stored and row.cover.name in stored
        item = media_item_for(row)
        assert item.path == ""  # remote: platforms fetch it by URL
        assert item.url.startswith(f"{settings.STORAGES['default']['OPTIONS']['endpoint_url']}/{bucket.bucket_name}/")
        assert "X-Amz-Signature=" in item.url
        response = fetch(item.url)
        assert response.status_code == 200
        assert response.content == stored[row.file.name] and len(response.content) == item.size


def test_it_deletes_the_objects_of_old_posts_from_the_bucket(workspace, bucket, django_capture_on_commit_callbacks):
    data = jpeg_bytes(face_picture((400, 300), face_at=(100, 50), face_height=200))
    asset = upload_now(workspace, data, "photo.jpg", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        request_renditions(assets=[asset], profiles=["image_1x1"])
    asset_render(asset_id=asset.pk)
    assert len(objects(bucket)) == 2
    post = PostFactory(workspace=workspace, status="completed", finished_at=timezone.now() - timedelta(days=90))
    PostMediaFactory(post=post, asset=asset)
    with django_capture_on_commit_callbacks(execute=True):
        assert media_cleanup()["assets"] == 1
    assert objects(bucket) == {}
