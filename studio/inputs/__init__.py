"""Where the studio's recordings come from: one client per input source kind (Zoom cloud recordings,
a Yandex Disk folder, a local or mounted folder) and one for a single file given by URL.

Every client has the same small shape (``base.InputClient``: list, download, delete) and one error
type (``base.InputError``), so discovery and the pipeline's download step never know which source
they talk to."""

from .base import InputClient, InputError, RemoteFile, Stopped, clean_source, client_for

__all__ = ["InputClient", "InputError", "RemoteFile", "Stopped", "clean_source", "client_for"]
