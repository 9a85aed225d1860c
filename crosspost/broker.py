"""The embedded broker: kombu's filesystem transport, with each message written whole before it shows.

kombu writes a message by opening ``<time>_<uuid>.<queue>.msg`` in the queue folder and then writing
into it. A consumer that lists the folder in between moves the still-empty file away, reads nothing,
and the worker dies on ``JSONDecodeError: Expecting value`` (kombu issue #1551, open since 2022). On
two busy cores it happened in one test run of ten. Here the message is written under a name no
consumer looks at and renamed into place, which is atomic within one folder: a consumer sees the
whole message or none of it.

``crosspost.celery`` maps the ``filesystem://`` scheme to this transport.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# kombu's consumers take only names of the form "<stamp>.<queue>.msg" (Channel._get, _size, _purge).
PARTIAL_PREFIX = ".partial-"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, PARTIAL_PREFIX + name)
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
