"""Media processing for the studio: pure functions over files, run through ffmpeg.

Nothing here touches the database. Each long step reports its progress
(0..1) through a callback and stops within two seconds when asked, so the
pipeline runner can show progress on the recording and cancel a job:

- ``run``: one ffmpeg process with progress, cancellation and a useful error;
- ``silence``: finding the pauses and rendering the recording without them
  (optionally loudness-normalised) in a single ffmpeg run;
- ``subtitles``: cues from transcription segments, SRT/VTT, burned-in
  subtitles and the audio that transcription is sent.
"""
