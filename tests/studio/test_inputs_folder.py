"""The folder input: only inside STUDIO_FOLDER_ROOTS (symlinks resolved), a file still being written
is left for the next sync, and a download is a streamed copy that can be stopped."""

import os
import shutil
import time

import pytest
from django.core.exceptions import ValidationError

from studio.inputs import InputError, Stopped, clean_source, client_for
from studio.models import InputSource
from studio.sync import discover, fetch_original
from tests.factories import WorkspaceFactory

from .inputs_support import video_file


@pytest.fixture
def inbox(settings, tmp_path):
    root = tmp_path / "inbox"
    (root / "team").mkdir(parents=True)
    settings.STUDIO_FOLDER_ROOTS = [str(root)]
    return root


def settled(path, seconds_ago=60):
    moment = time.time() - seconds_ago
    os.utime(path, (moment, moment))
    return path


def make_source(path, **options) -> InputSource:
    cleaned, secret = clean_source("folder", {"path": str(path), **options}, {})
    return InputSource.objects.create(workspace=WorkspaceFactory(), name="Inbox", kind="folder", options=cleaned, secret=secret)


def test_it_refuses_folders_outside_the_allowed_roots(inbox, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (inbox / "team" / "escape").symlink_to(outside)

    for path in (outside, inbox / "team" / ".." / ".." / "elsewhere", inbox / "team" / "escape", "/etc"):
        with pytest.raises(ValidationError) as caught:
            clean_source("folder", {"path": str(path)}, {})
        message = str(caught.value.message_dict["options"])
        assert "outside the folders the studio may read" in message and str(inbox) in message
    with pytest.raises(ValidationError, match="absolute path"):
        clean_source("folder", {"path": "team"}, {})
    with pytest.raises(ValidationError, match="not an existing folder"):
        clean_source("folder", {"path": str(inbox / "missing")}, {})
    assert clean_source("folder", {"path": str(inbox / "team")}, {})[0] == {
        "path": str(inbox / "team"),
        "pattern": "*.mp4,*.mov,*.mkv,*.webm,*.m4a",
        "settle_seconds": 10,
    }


@pytest.mark.django_db
def test_a_file_still_being_written_is_listed_once_it_has_settled(inbox):
    folder = inbox / "team"
    settled(shutil.copy(video_file(), folder / "done.mp4"))
    growing = folder / "copying.MP4"
    growing.write_bytes(video_file().read_bytes()[:1000])  # written just now
    settled(shutil.copy(video_file(), folder / "notes.txt"))
    source = make_source(folder)

    assert [f.name for f in client_for(source).list()] == ["done.mp4"]

    settled(growing)
    files = {f.name: f for f in client_for(source).list()}
    assert set(files) == {"done.mp4", "copying.MP4"}
    assert files["done.mp4"].remote_id == "done.mp4" and files["done.mp4"].size == video_file().stat().st_size


@pytest.mark.django_db
def test_a_link_out_of_the_folder_is_not_listed(inbox, tmp_path):
    secret = tmp_path / "secret.mp4"
    shutil.copy(video_file(), secret)
    settled(secret)
    (inbox / "team" / "leak.mp4").symlink_to(secret)

    assert list(client_for(make_source(inbox / "team")).list()) == []


@pytest.mark.django_db
def test_it_copies_the_file_into_storage_and_can_stop(inbox, tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    settled(shutil.copy(video_file(), inbox / "team" / "talk.mp4"))
    source = make_source(inbox / "team")
    report = discover(source=source)
    recording = report.created[0]

    with pytest.raises(Stopped):
        fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: True)
    assert not recording.files.exists()
    assert list((tmp_path / "var" / "tmp").iterdir()) == []  # no temporary file left behind

    stored = fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: False)
    assert list((tmp_path / "var" / "tmp").iterdir()) == []
    assert stored.file.read() == video_file().read_bytes()
    assert (inbox / "team" / "talk.mp4").exists()  # a folder keeps its files
    assert discover(source=source).created == []


@pytest.mark.django_db
def test_a_file_gone_from_the_folder_says_so(inbox, tmp_path):
    source = make_source(inbox / "team")
    with pytest.raises(InputError, match="no longer in the folder"):
        client_for(source).download({"path": "gone.mp4"}, tmp_path / "x", on_progress=lambda *_: None, should_stop=lambda: False)
    with pytest.raises(InputError, match="not inside the source's folder"):
        client_for(source).download({"path": "../../x"}, tmp_path / "x", on_progress=lambda *_: None, should_stop=lambda: False)
