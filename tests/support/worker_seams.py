"""Test seams for Celery worker processes that settings cannot carry.

``worker(env, include=["tests.support.worker_seams"])`` has the worker import this
module before it forks its pool; each pool process then installs what the
environment asks for, as an in-process test would with monkeypatch:

* ``INSTAGRAM_PRIVATE_EMULATOR_URL`` — instagrapi has no base-URL setting (its
  Instagram hosts are literal ``https://`` strings), so the private Instagram
  backend offers ``platforms.instagram.private.client_hooks``, a list
  in the process's memory. A hook is appended that mounts the emulator's
  URL-rewriting transport on both of the client's sessions, exactly what
  ``InstagramPrivateEmulator.route`` does in-process.
* ``INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS`` — instagrapi's pause before every
  private request (the adapter reads ``settings.INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS``,
  1 s by default, which crosspost/settings.py does not read from the environment),
  applied to each new client by the same hook.

Production workers never import this module.
"""

import os

from celery.signals import worker_process_init


@worker_process_init.connect
def _install(**kwargs) -> None:
    url = os.environ.get("INSTAGRAM_PRIVATE_EMULATOR_URL", "")
    if not url:
        return
    from platforms.instagram import private
    from tests.emulators.instagram_private import HOSTS, RewriteAdapter

    delay = os.environ.get("INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS", "")

    def route(client, account=None) -> None:
        for session in (client.private, client.public):
            for host in HOSTS:
                session.mount(host, RewriteAdapter(url))
        if delay:
            client.request_timeout = float(delay)

    private.client_hooks.append(route)
