"""Media pipeline: all four renditions of a 30 s 1080×1920 H.264+AAC clip.

Reports the pipeline's speed as × realtime (30 s / wall seconds, probe and
face/saliency analysis included), its ratio to one plain ffmpeg command doing
the same encoding work (split=4, same filters and encoder settings, no
analysis, no covers; goal ≥ 0.9), and peak memory: the worker process and its
largest ffmpeg child (ru_maxrss).
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from common import report, scratch_database

DURATION = 30
PROFILE_NAMES = ["video_9x16", "video_4x5", "video_1x1", "video_16x9"]


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-media-") as tmp:
        os.environ["MEDIA_ROOT"] = str(Path(tmp) / "files")
        with scratch_database():
            from media import tasks

            # Everything runs in this process: nothing is sent to a broker.
            with mock.patch.object(tasks.probe_asset, "delay"), mock.patch.object(tasks.render_asset, "delay"):
                run(Path(tmp))


def run(tmp: Path) -> None:
    from django.conf import settings
    from django.core.files import File

    from accounts.models import Workspace
    from media.ffmpeg import ffmpeg_binary, run_ffmpeg
    from media.models import MediaStatus
    from media.profiles import PROFILES
    from media.render import encoder_args, output_fps, picture_filter
    from media.services import asset_probe, asset_render, media_upload, request_renditions
    from media.smartcrop import plan_placement

    source = tmp / "source.mp4"
    print(f"generating a {DURATION} s 1080×1920 clip with {ffmpeg_binary()}", file=sys.stderr)
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=1080x1920:rate=30", "-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION}",
         "-t", str(DURATION), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)],
        timeout=600,
    )  # fmt: skip

    workspace = Workspace.objects.create(name="Bench", slug="bench-media")
    with source.open("rb") as fh:
        upload = File(fh, name="source.mp4")
        upload.size = source.stat().st_size
        asset, _ = media_upload(workspace=workspace, file=upload)
    asset = asset_probe(asset=asset)
    assert asset.status == MediaStatus.READY, asset.error
    request_renditions(assets=[asset], profiles=PROFILE_NAMES)

    started = time.perf_counter()
    summary = asset_render(asset_id=asset.pk)
    pipeline = time.perf_counter() - started
    assert sorted(summary.rendered) == sorted(PROFILE_NAMES), summary.failed
    self_peak, child_peak = _peak_mb(resource.RUSAGE_SELF), _peak_mb(resource.RUSAGE_CHILDREN)

    # The same encoding work as one plain command: split=4, same filters and encoder settings.
    profiles = [PROFILES[name] for name in PROFILE_NAMES]
    graph = ["[0:v]split=4" + "".join(f"[in{i}]" for i in range(4))]
    outputs = []
    for i, profile in enumerate(profiles):
        placement = plan_placement(asset.width, asset.height, profile.size, max_loss=settings.MEDIA_MAX_CROP_LOSS)
        graph.append(picture_filter(placement, profile.size, f"in{i}", f"pic{i}", str(i)))
        graph.append(f"[pic{i}]format=yuv420p[v{i}]")
        fps = output_fps(profile, asset.codecs.get("fps")) or asset.codecs.get("fps")
        encoding = encoder_args(profile, fps=fps, kbps=profile.max_video_kbps, has_audio=True)
        outputs += ["-map", f"[v{i}]", "-map", "0:a:0", *encoding]
        outputs.append(str(tmp / f"plain-{profile.name}.mp4"))
    started = time.perf_counter()
    run_ffmpeg(["-i", str(source), "-filter_complex", ";".join(graph), *outputs], timeout=1200)
    plain = time.perf_counter() - started

    extra = {"preset": settings.MEDIA_X264_PRESET, "ffmpeg": ffmpeg_binary()}
    report("media_render_4_outputs_30s_1080x1920_wall", pipeline, "s", **extra)
    report("media_render_4_outputs_speed", DURATION / pipeline, "x realtime", **extra)
    report("media_render_vs_plain_ffmpeg_split4", plain / pipeline, "ratio", plain_wall_s=round(plain, 3), **extra)
    report("media_render_peak_rss_worker", self_peak, "MB")
    report("media_render_peak_rss_ffmpeg", child_peak, "MB")
    report("media_render_peak_rss_total", self_peak + child_peak, "MB")


if __name__ == "__main__":
    main()
