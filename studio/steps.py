"""The pipeline's steps (studio.runner runs them): each reads what the steps before it kept and
keeps its own output — a file (``RecordingFile``) or the recording's fields — so a later run
resumes after it. Long work reports progress through the context and stops when asked
(``ctx.should_stop``: ffmpeg is killed, pending transcription chunks are dropped)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import av
from celery import current_app
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.jobs import JobCancelled, job_step
from media.ffmpeg import FFmpegFailed, FFmpegMissing
from media.services import local_path, media_upload
from platforms import pinterest, telegram, tiktok, vk, youtube
from platforms.instagram import common as instagram_common
from posts.models import MediaType
from posts.services import post_create

from .inputs.base import InputError
from .inputs.base import Stopped as InputStopped
from .models import FileKind, Recording, RecordingFile, RecordingStatus, Step, SubtitleMode
from .processing.run import Cancelled
from .processing.silence import detect_silences, keep_ranges, render_cut
from .processing.subtitles import cues_from_segments, extract_audio, render_burned, to_srt, to_vtt
from .runner import StepContext, StepError
from .services import metadata_values, render_text
from .sync import fetch_original
from .topics import Chapter, TopicsError, chapters_text, extract_topics
from .transcription import Stopped as TranscriptionStopped
from .transcription import TranscriptionError, transcriber_from_settings

# The run stops as cancelled on these, as failed (with their message) on FAILURES.
STOPPED = (JobCancelled, Cancelled, InputStopped, TranscriptionStopped)
FAILURES = (InputError, TranscriptionError, TopicsError, FFmpegFailed, FFmpegMissing)


def _file(recording: Recording, kind: str) -> RecordingFile | None:
    return recording.files.filter(kind=kind).first()


def _store(recording: Recording, kind: str, path: Path, name: str) -> RecordingFile:
    """Keep a step's output (replacing the previous run's) and count its size."""
    old = _file(recording, kind)
    with path.open("rb") as handle:
        row = RecordingFile(recording=recording, kind=kind, size_bytes=path.stat().st_size)
        row.file.save(name, File(handle), save=False)
    with transaction.atomic():
        if old is not None:
            old.delete()
        row.save()
    if old is not None and old.file and old.file.name != row.file.name:
        old.file.storage.delete(old.file.name)
    return row


def _drop(recording: Recording, kind: str) -> None:
    old = _file(recording, kind)
    if old is not None:
        name = old.file.name
        old.delete()
        if name:
            old.file.storage.delete(name)


def _workdir() -> Path:
    root = Path(settings.VAR_DIR) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="studio-", dir=root))


def _has_video(path: Path) -> bool:
    with av.open(str(path), metadata_errors="ignore") as container:
        return bool(container.streams.video)


def _duration(path: Path) -> float:
    with av.open(str(path), metadata_errors="ignore") as container:
        if container.duration:
            return container.duration / 1_000_000
        stream = (container.streams.video or container.streams.audio)[0]
        return float(stream.duration * stream.time_base) if stream.duration else 0.0


def _working_copy(recording: Recording) -> RecordingFile:
    """The file later steps start from: silences removed when that ran, else the original."""
    row = _file(recording, FileKind.TRIMMED) or _file(recording, FileKind.ORIGINAL)
    if row is None:
        raise StepError(_("The recording's file is gone; run it again from the download step."), resumable=True)
    return row


def step_download(ctx: StepContext) -> None:
    recording = ctx.recording
    if _file(recording, FileKind.ORIGINAL) is not None:
        return
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.DOWNLOADING, updated_at=timezone.now())
    fetch_original(recording=recording, on_progress=ctx.part(0.0, 1.0, _("Downloading…")), should_stop=ctx.should_stop)
    recording.refresh_from_db()
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.PROCESSING, updated_at=timezone.now())
    if recording.template_id is None or not (recording.match_reason or {}).get("manual"):
        # The duration is known now: a duration rule can be judged (a template chosen by hand stays).
        from .services import recording_match

        recording_match(recording=recording)


def step_trim(ctx: StepContext) -> None:
    recording, template = ctx.recording, ctx.recording.template
    original = _file(recording, FileKind.ORIGINAL)
    if original is None:
        raise StepError(_("The recording has not been downloaded; run it from the download step."))
    if template is None:
        raise StepError(_("No template matched this recording; choose one before processing it."), resumable=False)
    if not template.remove_silence and not template.loudnorm:
        _drop(recording, FileKind.TRIMMED)
        Recording.objects.filter(pk=recording.pk).update(removed_s=0.0, trimmed_duration_s=recording.duration_s)
        return
    workdir = _workdir()
    try:
        with local_path(original.file) as source:
            duration = recording.duration_s or _duration(source)
            has_video = _has_video(source)
            if template.remove_silence:
                silences = detect_silences(
                    source,
                    threshold_db=template.silence_threshold_db,
                    min_silence_s=template.silence_min_s,
                    duration_s=duration,
                    on_progress=ctx.part(0.0, 0.25, _("Finding silences…")),
                    should_stop=ctx.should_stop,
                )
                keep = keep_ranges(silences, duration, padding_s=template.silence_padding_s)
            else:
                keep = [(0.0, duration)]
            if not keep:
                raise StepError(
                    _("The recording is silent from start to end; nothing is left after removing silences."), resumable=False
                )
            suffix = ".mp4" if has_video else ".m4a"
            dest = workdir / f"trimmed{suffix}"
            result = render_cut(
                source,
                dest,
                keep,
                has_video=has_video,
                loudnorm_lufs=template.target_lufs if template.loudnorm else None,
                on_progress=ctx.part(0.25, 1.0, _("Removing silences…")),
                should_stop=ctx.should_stop,
            )
        _store(recording, FileKind.TRIMMED, dest, f"trimmed{suffix}")
        Recording.objects.filter(pk=recording.pk).update(
            removed_s=round(result.removed_s, 2), trimmed_duration_s=round(result.duration_s, 2), updated_at=timezone.now()
        )
        job_step(ctx.job_id, message=_("%(seconds).1f s of silence removed.") % {"seconds": result.removed_s})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def step_transcribe(ctx: StepContext) -> None:
    recording, template = ctx.recording, ctx.recording.template
    if template is None or not template.transcribe:
        Recording.objects.filter(pk=recording.pk).update(transcript=[], updated_at=timezone.now())
        return
    working = _working_copy(recording)
    workdir = _workdir()
    try:
        wav = workdir / "audio.wav"
        with local_path(working.file) as source:
            extract_audio(
                source,
                wav,
                on_progress=ctx.part(0.0, 0.1, _("Extracting the audio…")),
                should_stop=ctx.should_stop,
                duration_s=recording.trimmed_duration_s or recording.duration_s,
            )
        transcriber = transcriber_from_settings()

        def on_chunk(done: int, total: int) -> None:
            ctx.progress(
                0.1 + 0.9 * done / max(total, 1),
                _("Transcribing: %(done)d of %(total)d parts") % {"done": done, "total": total},
                force=True,
            )

        language = None if template.language in ("", "auto") else template.language
        transcript = transcriber.transcribe(wav, language=language, on_chunk=on_chunk, should_stop=ctx.should_stop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Recording.objects.filter(pk=recording.pk).update(
        transcript=transcript.as_json(), language=(transcript.language or language or "")[:10], updated_at=timezone.now()
    )
    job_step(ctx.job_id, message=_("%(count)d segments transcribed.") % {"count": len(transcript.segments)})


def step_topics(ctx: StepContext) -> None:
    recording = ctx.recording
    template = recording.template
    if recording.transcript:
        topics = extract_topics(
            recording.transcript,
            language=recording.language or (template.language if template and template.language != "auto" else "en"),
            duration_s=recording.trimmed_duration_s or recording.duration_s or 0.0,
        )
        recording.topics = topics.as_json()
    else:
        recording.topics = {}
    values = metadata_values(recording, chapters=_chapters(recording))
    recording.title = render_text(template.title_template if template else "{name}", values)[:300] or recording.display_name
    recording.description = render_text(template.description_template if template else "", values)
    recording.save(update_fields=["topics", "title", "description", "updated_at"])


def _chapters(recording: Recording) -> str:
    chapters = [Chapter(start=float(c["start"]), title=str(c["title"])) for c in (recording.topics or {}).get("chapters") or []]
    return chapters_text(chapters)


def step_subtitles(ctx: StepContext) -> None:
    recording, template = ctx.recording, ctx.recording.template
    mode = template.subtitles if template else SubtitleMode.OFF
    if mode == SubtitleMode.OFF or not recording.transcript:
        for kind in (FileKind.SRT, FileKind.VTT, FileKind.BURNED):
            _drop(recording, kind)
        return
    cues = cues_from_segments(recording.transcript)
    workdir = _workdir()
    try:
        srt, vtt = workdir / "subtitles.srt", workdir / "subtitles.vtt"
        srt.write_text(to_srt(cues), encoding="utf-8")
        vtt.write_text(to_vtt(cues), encoding="utf-8")
        _store(recording, FileKind.SRT, srt, "subtitles.srt")
        _store(recording, FileKind.VTT, vtt, "subtitles.vtt")
        if mode == SubtitleMode.BURNED:
            working = _working_copy(recording)
            with local_path(working.file) as source:
                if not _has_video(source):
                    raise StepError(
                        _("The recording has no picture to burn subtitles into; choose SRT or WebVTT."), resumable=False
                    )
                dest = workdir / "burned.mp4"
                render_burned(
                    source,
                    srt,
                    dest,
                    on_progress=ctx.part(0.1, 1.0, _("Burning in subtitles…")),
                    should_stop=ctx.should_stop,
                    duration_s=recording.trimmed_duration_s or recording.duration_s,
                )
            _store(recording, FileKind.BURNED, dest, "burned.mp4")
        else:
            _drop(recording, FileKind.BURNED)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _final_video(recording: Recording) -> RecordingFile:
    return _file(recording, FileKind.BURNED) or _working_copy(recording)


# How long a caption each platform takes (the adapters' numbers); a recording's description —
# written by the LLM, with chapters — is cut to fit at a line, else at a word, never mid-word.
CAPTION_LIMITS: dict[str, tuple[int, Callable[[str], int]]] = {
    "youtube": (youtube.DESCRIPTION_LIMIT_BYTES - 20, lambda t: len(t.replace("<", "‹").replace(">", "›").encode())),
    "telegram": (telegram.CAPTION_LIMIT, len),
    "vk": (vk.MESSAGE_LIMIT, len),
    "instagram": (instagram_common.CAPTION_LIMIT, len),
    "tiktok": (tiktok.TITLE_LIMIT, lambda t: len(t.encode("utf-16-le")) // 2),
    "pinterest": (pinterest.DESCRIPTION_LIMIT, len),
}


def fit(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """``text`` cut to ``limit`` (as ``measure`` counts): whole lines first, then words, with "…"."""
    text = text.strip()
    if measure(text) <= limit:
        return text
    lines = text.splitlines()
    while len(lines) > 1 and measure("\n".join(lines)) > limit:
        lines.pop()
    text = "\n".join(lines).rstrip()
    if measure(text) <= limit:
        return text
    words = text.split(" ")
    while len(words) > 1 and measure(" ".join(words) + "…") > limit:
        words.pop()
    text = " ".join(words)
    while text and measure(text + "…") > limit:
        text = text[:-1]
    return text + "…"


def _post_options(preset, title: str) -> dict:
    """The preset's settings as the platform's post options (platforms/options.py)."""
    platform = preset.platform
    if platform == "youtube":
        options = {"title": fit(title, youtube.TITLE_LIMIT)}
        if preset.privacy:
            options["privacy_status"] = preset.privacy
        if preset.category:
            options["category_id"] = preset.category
        if preset.tags:
            options["tags"] = preset.tags
        if preset.playlist:
            options["playlist_id"] = preset.playlist
        return {platform: options}
    if platform == "vk":
        options = {}
        if preset.playlist:
            options["album_id"] = preset.playlist
        if preset.privacy:
            options["privacy_view"] = preset.privacy
        return {platform: options} if options else {}
    return {}


def step_publish(ctx: StepContext) -> None:
    recording = Recording.objects.select_for_update(of=("self",)).select_related("template", "workspace", "source")
    with transaction.atomic():
        recording = recording.get(pk=ctx.recording.pk)
        template = recording.template
        presets = list(template.presets.prefetch_related("accounts").select_related("group")) if template else []
        if not presets:
            raise StepError(
                _("The template “%(template)s” has no output presets; add one, or publish the recording by hand.")
                % {"template": template or "—"},
                resumable=True,
            )
        outputs = dict(recording.outputs or {})
        final = _final_video(recording)
        asset = None
        publish_ids = []
        chapters = _chapters(recording)
        values = metadata_values(recording, chapters=chapters)
        for preset in presets:
            existing = (outputs.get(str(preset.pk)) or {}).get("post")
            if existing and recording.posts.filter(pk=existing).exists():
                continue  # this preset's post was made by an earlier delivery of the step
            if asset is None:
                with final.file.open("rb") as handle:
                    upload = File(handle, name=Path(final.file.name).name)
                    upload.size = final.size_bytes
                    asset, _created = media_upload(workspace=recording.workspace, file=upload, actor=recording.author)
            title = render_text(preset.title_template or (template.title_template if template else ""), values) or recording.title
            description = render_text(preset.description_template or (template.description_template if template else ""), values)
            caption = description if preset.platform == "youtube" else "\n\n".join(p for p in (title, description) if p)
            if preset.platform in CAPTION_LIMITS:
                caption = fit(caption, *CAPTION_LIMITS[preset.platform])
            post = post_create(
                workspace=recording.workspace,
                author=recording.author,
                target_groups=[preset.group] if preset.group_id else [],
                target_accounts=list(preset.accounts.all()),
                media=[asset],
                title=title[:200],
                caption=caption,
                language=_post_language(recording),
                media_type=MediaType.VIDEO,
                options=_post_options(preset, title),
            )
            recording.posts.add(post)
            outputs[str(preset.pk)] = {"post": post.pk, "publish": preset.publish_mode == "publish"}
            if preset.publish_mode == "publish":
                publish_ids.append(post.pk)
        recording.outputs = outputs
        recording.save(update_fields=["outputs", "updated_at"])
        # Planned and published by the engine (pacing, exactly once, retries); started by name:
        # the studio knows no publishing, its sibling.
        task = current_app.tasks["publishing.tasks.publish_post"]
        for post_id in publish_ids:
            transaction.on_commit(lambda post_id=post_id: task.delay(post_id))


def _post_language(recording: Recording) -> str:
    """The spoken language when it is a plain code the posts accept, else English."""
    language = (recording.language or "").strip().lower()
    if len(language) > 3 or not language.isalpha():
        template = recording.template
        language = template.language if template and template.language != "auto" else "en"
    return language or "en"


STEP_FUNCTIONS: dict[str, Callable[[StepContext], None]] = {
    Step.DOWNLOAD: step_download,
    Step.TRIM: step_trim,
    Step.TRANSCRIBE: step_transcribe,
    Step.TOPICS: step_topics,
    Step.SUBTITLES: step_subtitles,
    Step.PUBLISH: step_publish,
}
