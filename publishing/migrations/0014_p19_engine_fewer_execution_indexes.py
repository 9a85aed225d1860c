"""Fewer index entries written by each change of an execution's status (issue 19).

Every status change of an execution (the dispatcher's claim, the worker's claim, the outcome) moves
the row to a new version with an entry in every index of the table: eleven of them before this
migration. The three single-column indexes of the foreign keys are dropped, since each key leads a
composite index already (workspace: execution_ws_recent_cover, post: execution_one_per_post_account,
account: execution_account_time), and the lease sweep's index holds only executions with a lease.

The foreign keys' indexes are dropped with plain ``DROP INDEX`` rather than by Django's AlterField:
on SQLite that would rebuild the table, which drops the tally's triggers (migration 0011).
"""

import django.db.models.deletion
from django.db import migrations, models

# The keys whose own index goes, and the model each points to (their verbose names are their names).
TARGETS = {"account": "accounts.socialaccount", "post": "posts.post", "workspace": "accounts.workspace"}


def _key_indexes(apps, schema_editor):
    """(name, column) of the index Django made for each key (its name is derived from table and column)."""
    model = apps.get_model("publishing", "Execution")
    table = model._meta.db_table
    return [
        (schema_editor._create_index_name(table, [column], suffix=""), column)
        for column in (model._meta.get_field(key).column for key in TARGETS)
    ]


def drop_key_indexes(apps, schema_editor):
    for name, _column in _key_indexes(apps, schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_key_indexes(apps, schema_editor):
    table = apps.get_model("publishing", "Execution")._meta.db_table
    for name, column in _key_indexes(apps, schema_editor):
        quote = schema_editor.quote_name
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_approval_and_planning_settings"),
        ("posts", "0007_i18_export_content_hash"),
        ("publishing", "0013_p19_overview_outcome_buckets"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="execution", name="execution_leases"),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("lease_expires_at__isnull", False)),
                fields=["status", "lease_expires_at"],
                name="execution_leases",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_key_indexes, create_key_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="execution",
                    name=key,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="executions",
                        to=to,
                        verbose_name=key,
                    ),
                )
                for key, to in TARGETS.items()
            ],
        ),
    ]
