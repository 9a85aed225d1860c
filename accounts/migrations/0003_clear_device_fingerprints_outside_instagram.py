"""Device ids and Instagram app user agents belong to Instagram (private API) accounts only.

Accounts used to get one at creation whatever their platform; the adapters of the other
platforms now send Crosspost's own user agent, and the stored fingerprint is cleared so
nothing suggests otherwise. Not reversible: the old values meant nothing.
"""

from django.db import migrations


def clear_fingerprints(apps, schema_editor):
    SocialAccount = apps.get_model("accounts", "SocialAccount")
    SocialAccount.objects.exclude(platform="instagram").exclude(device_id="", user_agent="").update(
        device_id="", user_agent=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_account_status_no_access"),
    ]

    operations = [
        migrations.RunPython(clear_fingerprints, migrations.RunPython.noop, elidable=True),
    ]
