"""Where to cut a picture down to a target aspect without losing its subject.

``find_faces`` looks for faces with MediaPipe's FaceDetector (tasks API,
``weights/face_detection_short_range.tflite``), falling back to OpenCV's Haar
cascade when MediaPipe cannot be imported, and to nothing when neither can.
``focus_point`` is the centre of OpenCV's spectral-residual saliency when no
face was found. ``plan_placement`` turns those into a crop window, or into
"pad" — the whole picture fitted on a blurred, scaled copy of itself — when a
crop would cut a face or drop more than ``MEDIA_MAX_CROP_LOSS`` of the area.

Coordinates are pixels of the upright picture the caller analysed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FACE_MODEL = Path(__file__).resolve().parent / "weights" / "face_detection_short_range.tflite"
MIN_FACE_SCORE = 0.6
# Faces smaller than this share of the picture's short side are background, not the subject.
MIN_FACE_FRACTION = 0.03
# The short-range model expects faces that fill a good part of its 128×128 input,
# so the picture is also searched in overlapping square tiles down to this side.
MIN_TILE = 160
# Around the faces, keep this much of their size inside the crop when it fits.
FACE_MARGIN = 0.25


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.x * sx, self.y * sy, self.w * sx, self.h * sy)

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def overlap(self, other: Box) -> float:
        """Intersection over the smaller box's area (1.0: one contains the other)."""
        w = min(self.right, other.right) - max(self.x, other.x)
        h = min(self.bottom, other.bottom) - max(self.y, other.y)
        if w <= 0 or h <= 0:
            return 0.0
        return (w * h) / max(min(self.w * self.h, other.w * other.h), 1e-9)

    def inside(self, other: Box, tolerance: float = 1.0) -> bool:
        return (
            self.x >= other.x - tolerance
            and self.y >= other.y - tolerance
            and self.right <= other.right + tolerance
            and self.bottom <= other.bottom + tolerance
        )


@dataclass(frozen=True)
class Placement:
    """How a picture becomes the target size: ``crop`` (window ``box``, then scale) or ``pad``."""

    mode: str  # "crop" | "pad"
    box: Box  # the crop window (mode "crop"), or the whole picture (mode "pad")
    reason: str


# --- faces --------------------------------------------------------------------------------------


@cache
def detector_backend() -> str:
    """The face detector this machine can run: "mediapipe", "haar" or "none"."""
    try:
        from mediapipe.tasks.python import vision  # noqa: F401
    except Exception as exc:  # an import of a binary wheel can fail in many ways
        logger.warning("MediaPipe is unavailable (%s); falling back to OpenCV Haar cascades for faces.", exc)
    else:
        if FACE_MODEL.exists():
            return "mediapipe"
        logger.warning("The face model %s is missing; falling back to OpenCV Haar cascades.", FACE_MODEL)
    cascade = _haar_cascade_path()
    if cascade is not None:
        return "haar"
    logger.warning("No face detector is available: crops follow saliency or the centre.")
    return "none"


def _haar_cascade_path() -> str | None:
    try:
        import cv2
    except ImportError:
        return None
    data = getattr(cv2, "data", None)
    path = Path(data.haarcascades) / "haarcascade_frontalface_default.xml" if data else None
    return str(path) if path and path.exists() else None


@contextmanager
def face_finder() -> Iterator:
    """Yield ``find(rgb: ndarray) -> list[Box]`` for the available backend (closed afterwards)."""
    backend = detector_backend()
    if backend == "mediapipe":
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(FACE_MODEL)), min_detection_confidence=MIN_FACE_SCORE
        )
        with vision.FaceDetector.create_from_options(options) as detector:

            def detect(tile: np.ndarray) -> list[tuple[Box, float]]:
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(tile))
                return [
                    (
                        Box(d.bounding_box.origin_x, d.bounding_box.origin_y, d.bounding_box.width, d.bounding_box.height),
                        d.categories[0].score if d.categories else MIN_FACE_SCORE,
                    )
                    for d in detector.detect(image).detections
                ]

            yield lambda rgb: _filter(_tiled(rgb, detect), rgb.shape)
    elif backend == "haar":
        import cv2

        classifier = cv2.CascadeClassifier(_haar_cascade_path())

        def find(rgb: np.ndarray) -> list[Box]:
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            side = min(grey.shape[:2])
            found = classifier.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(side // 30, side // 30))
            return _filter([(Box(*map(float, f)), 1.0) for f in found], rgb.shape)

        yield find
    else:
        yield lambda rgb: []


def _tiled(rgb: np.ndarray, detect) -> list[tuple[Box, float]]:
    """Run ``detect`` on the whole picture and on overlapping square tiles of two sizes."""
    height, width = rgb.shape[:2]
    found = list(detect(rgb))
    side = min(width, height)
    for tile in (side, side // 2):
        if tile < MIN_TILE:
            break
        for x in _positions(width, tile):
            for y in _positions(height, tile):
                if tile == side and (x, y) == (0, 0) and width == height:
                    continue  # the whole picture was searched already
                for box, score in detect(rgb[y : y + tile, x : x + tile]):
                    found.append((Box(box.x + x, box.y + y, box.w, box.h), score))
    return found


def _positions(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile // 2
    positions = list(range(0, length - tile + 1, step))
    if positions[-1] != length - tile:
        positions.append(length - tile)
    return positions


def _filter(found: list[tuple[Box, float]], shape) -> list[Box]:
    """Drop tiny faces and merge the same face found in several tiles (best score wins)."""
    height, width = shape[:2]
    min_side = MIN_FACE_FRACTION * min(width, height)
    kept: list[Box] = []
    for box, _score in sorted(found, key=lambda item: -item[1]):
        box = _clip(box, width, height)
        if box is None or max(box.w, box.h) < min_side:
            continue
        if any(box.overlap(other) > 0.4 for other in kept):
            continue
        kept.append(box)
    return kept


def _clip(box: Box, width: int, height: int) -> Box | None:
    x, y = max(box.x, 0.0), max(box.y, 0.0)
    right, bottom = min(box.right, float(width)), min(box.bottom, float(height))
    if right <= x or bottom <= y:
        return None
    return Box(x, y, right - x, bottom - y)


def find_faces(frames: Sequence[np.ndarray]) -> list[Box]:
    """Faces in any of ``frames`` (RGB arrays of one size), merged across frames."""
    with face_finder() as find:
        boxes = [box for frame in frames for box in find(frame)]
    merged: list[Box] = []
    for box in boxes:
        for i, other in enumerate(merged):
            if box.overlap(other) > 0.4:
                merged[i] = other.union(box)
                break
        else:
            merged.append(box)
    return merged


# --- saliency -----------------------------------------------------------------------------------


def focus_point(frames: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """The mean centre of the salient region of ``frames`` (None without OpenCV's saliency module)."""
    try:
        import cv2

        make = cv2.saliency.StaticSaliencySpectralResidual_create
    except (ImportError, AttributeError):
        return None
    points = []
    for frame in frames:
        height, width = frame.shape[:2]
        scale = min(1.0, 256 / max(width, height))
        small = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        ok, saliency = make().computeSaliency(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        if not ok:
            continue
        threshold = saliency.mean() + saliency.std()
        weights = np.where(saliency > threshold, saliency, 0.0)
        total = float(weights.sum())
        if total <= 0:
            continue
        ys, xs = np.indices(weights.shape)
        points.append((float((xs * weights).sum() / total) / scale, float((ys * weights).sum() / total) / scale))
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


# --- placement ----------------------------------------------------------------------------------


def plan_placement(
    width: int,
    height: int,
    target: tuple[int, int],
    *,
    faces: Sequence[Box] = (),
    focus: tuple[float, float] | None = None,
    max_loss: float,
) -> Placement:
    """Choose the crop window of the target aspect in a ``width``×``height`` picture, or pad."""
    whole = Box(0, 0, width, height)
    aspect = target[0] / target[1]
    if width / height > aspect:
        crop_w, crop_h = min(width, max(2, _even(height * aspect))), height
    else:
        crop_w, crop_h = width, min(height, max(2, _even(width / aspect)))
    loss = 1 - (crop_w * crop_h) / (width * height)
    if loss > max_loss:
        return Placement("pad", whole, f"a crop would drop {loss:.0%} of the picture (limit {max_loss:.0%})")
    if faces:
        subject = faces[0]
        for face in faces[1:]:
            subject = subject.union(face)
        if subject.w > crop_w + 1 or subject.h > crop_h + 1:
            return Placement("pad", whole, "a crop would cut a face")
        cx, cy = subject.centre
        reason = f"crop around {len(faces)} face(s)"
    elif focus is not None:
        cx, cy = focus
        reason = "crop around the salient region"
    else:
        cx, cy = width / 2, height / 2
        reason = "centre crop"
    x = _clamp(cx - crop_w / 2, 0, width - crop_w)
    y = _clamp(cy - crop_h / 2, 0, height - crop_h)
    if faces:
        # Keep a margin around the faces when the window has room: shift towards them.
        margin_x = min(FACE_MARGIN * subject.w, (crop_w - subject.w) / 2)
        margin_y = min(FACE_MARGIN * subject.h, (crop_h - subject.h) / 2)
        x = _clamp(min(max(x, subject.right + margin_x - crop_w), subject.x - margin_x), 0, width - crop_w)
        y = _clamp(min(max(y, subject.bottom + margin_y - crop_h), subject.y - margin_y), 0, height - crop_h)
    return Placement("crop", Box(float(round(x)), float(round(y)), float(crop_w), float(crop_h)), reason)


def _even(value: float) -> int:
    return math.floor(value / 2 + 0.5) * 2


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))
