# The activity log moves from publishing into core. The table stays where it is
# (publishing_activitylog, same indexes and constraint): only Django's state
# changes, so no row is copied or lost. publishing 0003 drops the old state.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('crosspost', '0002_heartbeat'),
        ('posts', '0002_post_options_validator'),
        ('publishing', '0002_execution_lease_token_sandboxpost'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ActivityLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('action', models.CharField(max_length=64)),
                        ('status', models.CharField(choices=[('success', 'Success'), ('failed', 'Failed'), ('info', 'Info')], default='info', max_length=8)),
                        ('message', models.TextField(blank=True)),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='activity', to='accounts.socialaccount')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('execution', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='activity', to='publishing.execution')),
                        ('post', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='activity', to='posts.post')),
                        ('workspace', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='activity', to='accounts.workspace')),
                    ],
                    options={
                        'db_table': 'publishing_activitylog',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['workspace', '-created_at'], name='activity_ws_recent'), models.Index(fields=['account', '-created_at'], name='activity_account_recent'), models.Index(fields=['action', '-created_at'], name='activity_action_recent')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['success', 'failed', 'info'])), name='activity_valid_status')],
                    },
                ),
            ],
        ),
    ]
