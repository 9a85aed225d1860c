import io
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.imports import COLUMNS, ImportReport, accounts_import_csv
from accounts.models import Workspace


class Command(BaseCommand):
    help = (
        f"Import social accounts from a CSV file with the header {','.join(COLUMNS)} "
        "(group and proxy_url may be empty; secret may be empty for sandbox accounts). "
        "Every row is checked first; if any is bad nothing is imported unless --skip-invalid is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the CSV file (UTF-8, with or without BOM), or - for stdin.")
        parser.add_argument("--workspace", required=True, help="Slug of the workspace the accounts belong to.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows and report the bad ones.")
        parser.add_argument("--create-groups", action="store_true", help="Create groups the file names that do not exist yet.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report everything, write nothing.")

    def handle(self, *args, file: str, workspace: str, skip_invalid: bool, create_groups: bool, dry_run: bool, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            known = ", ".join(Workspace.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No workspace with slug {workspace!r} (existing: {known}).")
        text = self._read(file)
        report = accounts_import_csv(
            workspace=ws,
            stream=io.StringIO(text, newline=""),
            skip_invalid=skip_invalid,
            create_groups=create_groups,
            dry_run=dry_run,
        )
        for number, message in report.errors:
            self.stdout.write(self.style.ERROR(f"row {number}: {message}"))
        if report.errors and report.rows == 0:
            raise CommandError("Nothing imported: the file cannot be read as an account list (see above).")
        if report.errors and not skip_invalid:
            raise CommandError(
                f"Nothing imported: {len({n for n, _ in report.errors})} row(s) have errors. "
                "Fix them, or re-run with --skip-invalid to import only the valid rows."
            )
        self._summary(report, ws, dry_run)

    def _read(self, file: str) -> str:
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
        try:
            # utf-8-sig drops the byte-order mark spreadsheet programs put first.
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CommandError(
                f'{file} is not UTF-8 text (undecodable byte on line {line}). Save it as "CSV UTF-8" and try again.'
            ) from exc

    def _summary(self, report: ImportReport, ws: Workspace, dry_run: bool) -> None:
        verb = "would be" if dry_run else "were"
        if report.groups_created:
            self.stdout.write(f"Groups that {verb} created: {', '.join(report.groups_created)}")
        if report.proxies_created:
            self.stdout.write(f"Proxies that {verb} created: {', '.join(report.proxies_created)}")
        if report.proxies_assigned:
            self.stdout.write(f"{report.proxies_assigned} account(s) without a proxy in the file {verb} given a free one.")
        if report.without_proxy:
            self.stdout.write(
                self.style.WARNING(
                    f"No free healthy proxy was left for {', '.join(report.without_proxy)}: add proxies or raise "
                    "max_accounts, then assign them one."
                )
            )
        line = f"{report.created} of {report.rows} account(s) {'would be imported' if dry_run else 'imported'} into {ws.slug}"
        if report.skipped:
            line += f"; {report.skipped} invalid row(s) skipped"
        self.stdout.write(self.style.SUCCESS(line + "."))
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
