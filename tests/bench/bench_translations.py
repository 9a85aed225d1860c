"""Translations: provider calls and planning time for 1,000 accounts in 5 languages,
cold (empty TranslationCache) and warm, against the DeepL emulator in-process."""

import logging
import os
import time

from common import ROOT, report, scratch_database

ACCOUNTS = 1_000
LANGUAGES = ("en", "de", "fr", "es", "it")  # en is the post's own language
CAPTION = "Our summer drop is here 👗 https://shop.example/s?ref=bench\n\nTag @friends #summer #linen"


def main() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.emulators.deepl import DeepLEmulator

    with DeepLEmulator() as deepl_api:
        # Settings read the environment once, at django.setup() inside scratch_database().
        os.environ.update(
            DEEPL_API_KEY=deepl_api.auth_key, DEEPL_SERVER_URL=deepl_api.url, OPENAI_API_KEY="", TRANSLATION_MAX_RETRIES="0"
        )
        with scratch_database():
            logging.getLogger("deepl").setLevel(logging.WARNING)  # one INFO line per request otherwise
            from django.core.cache import cache
            from django.db import connection

            from accounts.models import AccountGroup, SocialAccount, Workspace
            from posts.models import Post
            from publishing.planner import post_publish

            cache.clear()
            workspace = Workspace.objects.create(name="Bench", slug="bench-translations")
            group = AccountGroup.objects.create(workspace=workspace, name="five-languages")
            SocialAccount.objects.bulk_create(
                [
                    SocialAccount(
                        workspace=workspace,
                        platform="sandbox",
                        handle=f"t-{i}",
                        group=group,
                        language=LANGUAGES[i % len(LANGUAGES)],
                    )
                    for i in range(ACCOUNTS)
                ],
                batch_size=2000,
            )
            for run in ("cold", "warm"):
                post = Post.objects.create(workspace=workspace, caption=CAPTION, media_type="text", title="Summer")
                post.target_groups.set([group])
                before = len(deepl_api.translate_calls)
                started = time.perf_counter()
                plan = post_publish(post=post)
                elapsed = time.perf_counter() - started
                assert plan.created == ACCOUNTS, plan.as_dict()["blocked"]
                calls = len(deepl_api.translate_calls) - before
                report(f"translations_{run}_provider_calls_{ACCOUNTS}_accounts_5_languages", calls, "calls", db=connection.vendor)
                report(
                    f"translations_{run}_plan_{ACCOUNTS}_accounts_5_languages_time", elapsed * 1000, "ms", db=connection.vendor
                )


if __name__ == "__main__":
    main()
