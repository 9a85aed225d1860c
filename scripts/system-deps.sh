#!/usr/bin/env bash
# Debian packages the test suite uses beyond Python: Chromium (browser tests),
# ffmpeg (ffprobe for media tests; the app itself falls back to imageio-ffmpeg)
# gettext (compiling the ru catalog) and espeak-ng (speech for the video studio's tests). Installed only when missing; needs root.
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v msgfmt >/dev/null || missing+=(gettext)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (install them as root); continuing without them" >&2
  exit 0
fi
echo "==> installing Debian packages: ${missing[*]}" >&2
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
