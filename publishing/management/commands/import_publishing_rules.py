"""Load publishing rules (platform on/off, hashtag range, forbidden words, required
hashtags, caption template, daily limit, optimal times, media limits) from a
publishing_rules YAML into a workspace's publishing policies. All or nothing; errors
name the YAML path; keys Crosspost does not know are listed as warnings."""

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from publishing.rules_import import RulesError, import_publishing_rules, parse_rules


class Command(BaseCommand):
    help = "Import publishing rules (YAML) into a workspace's publishing policies."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The YAML file, e.g. config/publishing_rules.yml.")
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--template", help="Which of a platform's caption_templates to use when it has several.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and show what would change; save nothing.")

    def handle(self, *args, path, workspace, template=None, dry_run=False, **options):
        try:
            ws = Workspace.objects.get(slug=workspace)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace with slug {workspace!r}.") from None
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"{path}: cannot be read: {exc.strerror or exc}.") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise CommandError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.") from exc
        try:
            result = (
                parse_rules(data, template=template)
                if dry_run
                else import_publishing_rules(workspace=ws, data=data, template=template)
            )
        except RulesError as exc:
            raise CommandError(f"{path}: invalid publishing rules, nothing was saved:\n  " + "\n  ".join(exc.errors)) from exc
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        verb = "Would update" if dry_run else "Updated"
        for platform, values in result.policies.items():
            self.stdout.write(f"{verb} {ws.slug}/{platform}: {', '.join(sorted(values)) or 'nothing'}")
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {len(result.policies)} polic{'y' if len(result.policies) == 1 else 'ies'}.")
        )
