"""Serving locally stored media in development.

Only with ``DEBUG``, as Django's ``static()`` did (production media live on S3
or behind a web server). A stored file is served as the media type its
extension stands for — the extension itself comes from the sniffed type, see
``models.MEDIA_EXTENSIONS`` — and anything else as a download, never as a page
a browser would render; ``nosniff`` stops browsers from second-guessing.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET
from django.views.static import serve

from .models import MEDIA_TYPES


@require_GET
def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    if not settings.DEBUG:
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    name = PurePosixPath(path)
    mime = MEDIA_TYPES.get(name.suffix.lower())
    if mime is None:
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name.name)
    else:
        response["Content-Type"] = mime
    response["X-Content-Type-Options"] = "nosniff"
    return response
