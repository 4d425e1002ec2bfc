"""The coverage alarm (C7): a team's minimum of routable agents and its opening hours, edited by
supervisors, and the coverage state the sweep keeps (presence.services.coverage)."""

import django.db.models.deletion
import presence.models
from django.db import migrations, models

from presence.roles import grant_supervisor_permissions


def grant(apps, schema_editor):
    grant_supervisor_permissions(apps, schema_editor, "presence", {"teamopeninghours": ("view", "add", "change", "delete")})


class Migration(migrations.Migration):

    dependencies = [
        ('presence', '0010_agent_profile_language'),
    ]

    operations = [
        migrations.CreateModel(
            name='TeamCoverage',
            fields=[
                ('team', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='coverage', serialize=False, to='presence.team')),
                ('open', models.BooleanField(default=False)),
                ('required', models.PositiveSmallIntegerField(default=0)),
                ('routable', models.PositiveIntegerField(default=0)),
                ('deficit', models.PositiveSmallIntegerField(default=0)),
                ('since', models.DateTimeField(blank=True, null=True)),
                ('checked_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name': 'team coverage',
                'verbose_name_plural': 'team coverage',
            },
        ),
        migrations.AddField(
            model_name='historicalteam',
            name='coverage_minimum',
            field=models.PositiveSmallIntegerField(default=0, help_text='During opening hours, the coverage alarm goes off when fewer members than this get work automatically. 0: no alarm.', verbose_name='minimum routable agents'),
        ),
        migrations.AddField(
            model_name='historicalteam',
            name='coverage_time_zone',
            field=models.CharField(blank=True, default='', help_text="The time zone of the opening hours, such as Europe/Berlin. Empty: the site's time zone.", max_length=64, validators=[presence.models.validate_time_zone], verbose_name="opening hours' time zone"),
        ),
        migrations.AddField(
            model_name='team',
            name='coverage_minimum',
            field=models.PositiveSmallIntegerField(default=0, help_text='During opening hours, the coverage alarm goes off when fewer members than this get work automatically. 0: no alarm.', verbose_name='minimum routable agents'),
        ),
        migrations.AddField(
            model_name='team',
            name='coverage_time_zone',
            field=models.CharField(blank=True, default='', help_text="The time zone of the opening hours, such as Europe/Berlin. Empty: the site's time zone.", max_length=64, validators=[presence.models.validate_time_zone], verbose_name="opening hours' time zone"),
        ),
        migrations.CreateModel(
            name='TeamOpeningHours',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('weekday', models.PositiveSmallIntegerField(choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')], verbose_name='weekday')),
                ('opens', models.TimeField(verbose_name='opens')),
                ('closes', models.TimeField(help_text='At or before the opening time: closes the next day.', verbose_name='closes')),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='opening_hours', to='presence.team')),
            ],
            options={
                'verbose_name': 'opening hours',
                'verbose_name_plural': 'opening hours',
                'ordering': ['team', 'weekday', 'opens'],
                'constraints': [models.CheckConstraint(condition=models.Q(('weekday__gte', 0), ('weekday__lte', 6)), name='opening_hours_weekday_0_6')],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
