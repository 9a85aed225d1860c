"""The overview's window index covers what its counts read (built before the old one goes)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_approval_and_planning_settings"),
        ("posts", "0007_i18_export_content_hash"),
        ("publishing", "0011_p19_tally_execution_counts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["workspace", "status", "-finished_at"],
                include=("scheduled_for", "account"),
                name="execution_ws_recent_cover",
            ),
        ),
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_ws_recent",
        ),
    ]
