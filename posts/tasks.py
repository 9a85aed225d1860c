"""Celery tasks of posts: they leave every decision to posts.services."""

from celery import shared_task

from . import services


# The name it was scheduled under when media owned the cleanup: django-celery-beat rows, the
# periodic declaration (crosspost/periodic.py) and the "media" route keep working unchanged.
@shared_task(name="media.tasks.cleanup_media", ignore_result=True)
def cleanup_media() -> dict:
    """Delete originals and renditions of posts finished more than MEDIA_RETENTION_DAYS ago."""
    return services.media_cleanup()
