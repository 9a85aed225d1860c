"""(post, status) becomes (post, status, finished_at): the same prefix for per-post progress, and
"did this post publish since X" as one index probe per post (the overview's posts today / this week).
The new index is built before the old one goes, so no moment is without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_approval_and_planning_settings"),
        ("posts", "0007_i18_export_content_hash"),
        ("publishing", "0008_post_ai_captions"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(fields=["post", "status", "finished_at"], name="execution_post_status_time"),
        ),
        migrations.RemoveIndex(model_name="execution", name="execution_post_status"),
    ]
