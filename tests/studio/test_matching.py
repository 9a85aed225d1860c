"""Which template a recording gets, and the reasons an operator sees (studio/matching.py)."""

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role
from studio.matching import match
from studio.models import InputSource, Recording, Template
from studio.services import recording_match, template_save

pytestmark = pytest.mark.django_db


def _recording(workspace, name="Weekly sync", duration=1800.0, when=datetime(2026, 12, 7, 10, 0, tzinfo=UTC), source=None):
    return Recording.objects.create(
        workspace=workspace,
        source=source,
        remote_id=f"r-{name}-{duration}",
        display_name=name,
        duration_s=duration,
        recorded_at=when,
    )


def _template(workspace, name, priority=50, **rules):
    return Template.objects.create(workspace=workspace, name=name, priority=priority, **rules)


def test_the_highest_priority_among_matching_templates_wins_and_ties_go_to_the_older(workspace):
    low = _template(workspace, "Anything", priority=10)
    first = _template(workspace, "Syncs A", priority=80, name_regex=r"^weekly")
    _template(workspace, "Syncs B", priority=80, name_regex=r"sync$")  # same priority, newer
    _template(workspace, "Long talks", priority=95, min_duration_s=3600)  # does not match (30 min)
    found = match(_recording(workspace))
    assert found.template == first
    assert [v.rule for v in found.verdicts] == ["name"] and found.verdicts[0].ok
    others = {o["name"]: o for o in found.others}
    assert others["Long talks"]["matched"] is False and "outside" in others["Long talks"]["detail"]
    assert others["Syncs B"]["matched"] is True and "Syncs A" in others["Syncs B"]["detail"]
    assert others["Anything"]["matched"] is True
    assert low.pk in {o["template"] for o in found.others}


def test_every_rule_is_judged_and_explained(workspace):
    workspace.timezone = "Europe/Moscow"
    workspace.save()
    source = InputSource.objects.create(workspace=workspace, name="Zoom", kind="zoom")
    template = _template(
        workspace,
        "Monday standups",
        name_regex="standup",
        source=source,
        min_duration_s=60,
        max_duration_s=1200,
        weekdays=[0],
        time_from=time(9, 0),
        time_until=time(11, 0),
    )
    # Monday 07:30 UTC = 10:30 in Moscow.
    good = _recording(workspace, "Team STANDUP", 600, datetime(2026, 12, 7, 7, 30, tzinfo=UTC), source)
    found = match(good)
    assert found.template == template
    assert [v.rule for v in found.verdicts] == ["name", "source", "duration", "weekday", "time"]
    assert all(v.ok for v in found.verdicts)
    assert "10:30" in found.verdicts[-1].detail and "Europe/Moscow" in found.verdicts[-1].detail
    # Tuesday, 12:00 Moscow: the weekday rule fails first.
    late = _recording(workspace, "Team standup", 600, datetime(2026, 12, 8, 9, 0, tzinfo=UTC), source)
    found = match(late)
    assert found.template is None
    assert "Tue" in found.others[0]["detail"]
    assert found.summary == "No template matched; choose one by hand."


def test_a_time_window_across_midnight(workspace):
    workspace.timezone = "UTC"
    workspace.save()
    template = _template(workspace, "Night", time_from=time(22, 0), time_until=time(2, 0))
    assert match(_recording(workspace, "a", when=datetime(2026, 12, 7, 23, 30, tzinfo=UTC))).template == template
    assert match(_recording(workspace, "b", when=datetime(2026, 12, 7, 1, 30, tzinfo=UTC))).template == template
    assert match(_recording(workspace, "c", when=datetime(2026, 12, 7, 12, 0, tzinfo=UTC))).template is None


def test_unknown_duration_does_not_match_a_duration_rule_and_disabled_templates_are_ignored(workspace):
    _template(workspace, "Short", min_duration_s=10)
    _template(workspace, "Off", priority=100, enabled=False)
    recording = _recording(workspace, duration=None)
    found = match(recording)
    assert found.template is None
    assert "not known yet" in found.others[0]["detail"]
    assert [o["name"] for o in found.others] == ["Short"]


def test_a_catastrophic_pattern_times_out_instead_of_hanging(workspace):
    _template(workspace, "Evil", name_regex=r"^(a|aa)+$")
    recording = _recording(workspace, name="a" * 60 + "!")
    found = match(recording)
    assert found.template is None
    assert "too slow" in found.others[0]["detail"]


def test_recording_match_keeps_the_reason_and_no_template_waits_for_an_operator(workspace):
    recording = _recording(workspace)
    recording_match(recording=recording)
    recording.refresh_from_db()
    assert recording.template is None
    assert "No template is enabled" in recording.match_reason["summary"]
    template = _template(workspace, "All")
    recording_match(recording=recording)
    recording.refresh_from_db()
    assert recording.template == template
    assert "it has no rules" in recording.match_reason["summary"]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"name_regex": "(unclosed"}, "name_regex", "not a valid regular expression"),
        ({"min_duration_s": 100, "max_duration_s": 10}, "max_duration_s", "must not be shorter"),
        ({"weekdays": [7]}, "weekdays", "0 (Monday) to 6"),
        ({"language": "Russian!"}, "language", "language code"),
        ({"title_template": "{topic} {nope}"}, "title_template", "{nope}"),
        ({"transcribe": False, "subtitles": "srt"}, "subtitles", "turn transcription on"),
        ({"priority": 101}, "priority", "100"),
    ],
)
def test_template_save_refuses_bad_input_with_a_field_message(workspace, member, fields, field, says):
    actor = member(Role.EDITOR)
    with pytest.raises(ValidationError) as caught:
        template_save(workspace=workspace, actor=actor, name="T", **fields)
    assert field in caught.value.message_dict
    assert says in " ".join(caught.value.message_dict[field])
    assert not Template.objects.exists()
