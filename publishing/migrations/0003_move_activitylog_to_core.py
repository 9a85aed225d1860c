# The activity log now belongs to core (crosspost 0003 took it over in Django's
# state). Its table, publishing_activitylog, is kept as is: state-only delete.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('crosspost', '0003_activitylog'),
        ('publishing', '0002_execution_lease_token_sandboxpost'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(
                    name='ActivityLog',
                ),
            ],
        ),
    ]
