"""Bulk import of social accounts from a CSV file.

Every row is checked before anything is written, so an operator sees all the
problems of a file at once, with the row numbers their spreadsheet shows
(the header is row 1). A secret never appears in a message.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import Lower

from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus

from .models import PLATFORM_SECRET_KEY, AccountGroup, Platform, Proxy, SocialAccount, Workspace, parse_proxy_url
from .services import account_create, proxy_create, secret_to_credentials

COLUMNS = ("platform", "handle", "secret", "language", "group", "proxy_url")
OPTIONAL_COLUMNS = ("group", "proxy_url")
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)

# language[-Script][-REGION]: en, de, pt-BR, zh-Hant, zh-Hant-TW, es-419.
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_LANGUAGE_MAX = SocialAccount._meta.get_field("language").max_length
_HANDLE_MAX = SocialAccount._meta.get_field("handle").max_length
_GROUP_MAX = AccountGroup._meta.get_field("name").max_length


@dataclass
class ImportReport:
    created: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    rows: int = 0
    committed: bool = False
    groups_created: list[str] = field(default_factory=list)
    proxies_created: list[str] = field(default_factory=list)
    proxies_assigned: int = 0  # accounts given a free proxy because their row named none
    without_proxy: list[str] = field(default_factory=list)  # handles created without one: none was free


@dataclass
class _Row:
    number: int
    platform: str
    handle: str
    secret: str
    language: str
    group: str
    proxy: dict | None  # parse_proxy_url() output

    @property
    def proxy_key(self) -> tuple | None:
        return (self.proxy["scheme"], self.proxy["host"], self.proxy["port"]) if self.proxy else None


def normalize_language(value: str) -> str:
    """pt_br → pt-BR, ZH-hant → zh-Hant; the result still has to match LANGUAGE_RE."""
    parts = value.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper())
    return "-".join(out)


def _header_error(header: list[str]) -> str | None:
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    repeated = sorted({h for h in names if h in COLUMNS and names.count(h) > 1})
    if not (missing or unknown or repeated):
        return None
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(repr(h) for h in unknown)}")
    if repeated:
        problems.append(f"repeated column(s): {', '.join(repeated)}")
    message = (
        f"bad header ({'; '.join(problems)}). Expected the columns {','.join(COLUMNS)} "
        f"({' and '.join(OPTIONAL_COLUMNS)} may be left out)."
    )
    if len(header) == 1 and ";" in header[0]:
        message += " The file looks semicolon-separated: export it as comma-separated CSV."
    return message


def _parse_rows(records: Iterable[tuple[int, list[str]]], columns: list[str], report: ImportReport) -> list[_Row]:
    """Check each row on its own; cross-row and database checks come later."""
    valid_platforms = ", ".join(Platform.values)
    rows = []
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # an empty spreadsheet line
        report.rows += 1
        if len(cells) < len(columns) and all(c in OPTIONAL_COLUMNS for c in columns[len(cells) :]):
            cells = cells + [""] * (len(columns) - len(cells))  # trailing optional cells left out
        if len(cells) != len(columns):
            report.errors.append((number, f"has {len(cells)} value(s) but the header has {len(columns)} column(s)."))
            continue
        values = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
        problems = []
        platform = values["platform"].lower()
        if platform not in Platform.values:
            problems.append(f"unknown platform {values['platform']!r}; use one of: {valid_platforms}.")
        handle = values["handle"]
        if not handle:
            problems.append("handle is empty.")
        elif len(handle) > _HANDLE_MAX:
            problems.append(f"handle is longer than {_HANDLE_MAX} characters.")
        secret = values["secret"]
        if not secret and platform in Platform.values and platform != Platform.SANDBOX:
            problems.append(
                f"secret is empty: {platform} accounts need one ({PLATFORM_SECRET_KEY[Platform(platform)]}); "
                "only sandbox accounts may leave it empty."
            )
        language = normalize_language(values["language"])
        if not values["language"]:
            problems.append("language is empty; use a code such as en, de, pt-BR or zh-Hant.")
        elif not LANGUAGE_RE.match(language) or len(language) > _LANGUAGE_MAX:
            problems.append(f"language {values['language']!r} is not a language code such as en, de, pt-BR or zh-Hant.")
        group = values.get("group", "")
        if len(group) > _GROUP_MAX:
            problems.append(f"group name is longer than {_GROUP_MAX} characters.")
        proxy = None
        if values.get("proxy_url"):
            try:
                proxy = parse_proxy_url(values["proxy_url"])
            except ValidationError as exc:
                problems.append(f"invalid proxy_url: {' '.join(exc.messages)}")
        if problems:
            report.errors.extend((number, problem) for problem in problems)
            continue
        rows.append(_Row(number, platform, handle, secret, language, group, proxy))
    return rows


def _check_against_workspace(rows: list[_Row], workspace: Workspace, create_groups: bool, report: ImportReport) -> list[_Row]:
    """Duplicates, existing accounts, unknown groups and proxy capacity; returns the rows that pass."""
    bad: set[int] = set()

    def fail(row: _Row, message: str) -> None:
        report.errors.append((row.number, message))
        bad.add(row.number)

    # Handles are compared case-insensitively: platforms treat Alice and alice as one account.
    first_seen: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.platform, row.handle.lower())
        if key in first_seen:
            fail(row, f"handle {row.handle!r} for {row.platform} repeats row {first_seen[key]}.")
        else:
            first_seen[key] = row.number
    existing = set(
        SocialAccount.objects.filter(workspace=workspace)
        .annotate(handle_lower=Lower("handle"))
        .filter(handle_lower__in={h for _, h in first_seen})
        .values_list("platform", "handle_lower")
    )
    for row in rows:
        if (row.platform, row.handle.lower()) in existing:
            fail(row, f"{row.platform} account {row.handle!r} already exists in workspace {workspace.slug}.")

    if not create_groups:
        groups = set(AccountGroup.objects.filter(workspace=workspace).values_list("name", flat=True))
        for row in rows:
            if row.group and row.group not in groups:
                fail(
                    row,
                    f"group {row.group!r} does not exist in workspace {workspace.slug}; "
                    "create it first or let the import create groups (--create-groups).",
                )

    # Capacity is counted over the rows still valid, in file order: the first ones fit.
    proxies = {
        (p.scheme, p.host, p.port): p
        for p in Proxy.objects.filter(workspace=workspace, host__in={r.proxy["host"] for r in rows if r.proxy}).annotate(
            used=Count("accounts")
        )
    }
    fitted: dict[tuple, list[int]] = {}
    for row in rows:
        if row.proxy is None or row.number in bad:
            continue
        proxy = proxies.get(row.proxy_key)
        # A proxy the file introduces is created with the model default, max_accounts=1.
        capacity, used = (proxy.max_accounts, proxy.used) if proxy else (1, 0)
        taking = fitted.setdefault(row.proxy_key, [])
        if used + len(taking) < capacity:
            taking.append(row.number)
            continue
        display = f"{row.proxy['scheme']}://{row.proxy['host']}:{row.proxy['port']}"
        if proxy:
            message = f"proxy {display} is full: it allows {capacity} account(s) (max_accounts) and serves {used}"
            if taking:
                message += f", and row(s) {', '.join(map(str, taking))} of this file take the rest"
            message += ". Raise its max_accounts or use another proxy."
        else:
            message = (
                f"proxy {display} is new and would be created with max_accounts=1, which row(s) "
                f"{', '.join(map(str, taking))} already use. Add the proxy first with a higher max_accounts, "
                "or use another proxy."
            )
        fail(row, message)
    return [row for row in rows if row.number not in bad]


def _write(rows: list[_Row], workspace: Workspace, skip_invalid: bool, actor, report: ImportReport) -> bool:
    """Create groups, proxies and accounts; False if a row failed and nothing may be kept."""
    groups = {g.name: g for g in AccountGroup.objects.filter(workspace=workspace)}
    hosts = {r.proxy["host"] for r in rows if r.proxy}
    # Locked so that a concurrent import or assignment cannot fill them meanwhile.
    proxies = {
        (p.scheme, p.host, p.port): p for p in Proxy.objects.select_for_update().filter(workspace=workspace, host__in=hosts)
    }
    # Proxies rows name are theirs: an account of a row without one is never given them.
    named = {p.pk for p in proxies.values()}
    for row in rows:
        group = groups.get(row.group) if row.group else None
        proxy = proxies.get(row.proxy_key) if row.proxy else None
        new_group = new_proxy = None
        try:
            # A savepoint per row: with skip_invalid a failing row takes only its own writes with it.
            with transaction.atomic():
                if row.group and group is None:
                    group = new_group = _group_create(workspace=workspace, name=row.group, actor=actor)
                if row.proxy and proxy is None:
                    proxy = new_proxy = proxy_create(workspace=workspace, url=row.proxy["url"], actor=actor)
                    named.add(new_proxy.pk)
                account = account_create(
                    workspace=workspace,
                    platform=row.platform,
                    handle=row.handle,
                    language=row.language,
                    group=group,
                    proxy=proxy,
                    credentials=secret_to_credentials(row.platform, row.secret),
                    actor=actor,
                    keep_proxies_free=frozenset(named),
                )
        except (ValidationError, IntegrityError) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else f"the database refused the row ({exc})."
            report.errors.append((row.number, _without_secret(message, row.secret)))
            if not skip_invalid:
                return False
            report.skipped += 1
            continue
        if new_group is not None:
            groups[new_group.name] = new_group
            report.groups_created.append(new_group.name)
        if new_proxy is not None:
            proxies[row.proxy_key] = new_proxy
            report.proxies_created.append(new_proxy.display_url)
        if account.proxy_missing:
            report.without_proxy.append(account.handle)
        elif account.proxy_note:
            report.proxies_assigned += 1
        report.created += 1
    return True


def _group_create(*, workspace: Workspace, name: str, actor) -> AccountGroup:
    group = AccountGroup(workspace=workspace, name=name)
    group.full_clean()
    group.save()
    log_activity(
        action="group.create",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        details={"group": group.name, "source": "csv import"},
    )
    return group


def _without_secret(message: str, secret: str) -> str:
    message = redact(message)
    return message.replace(secret, "<secret>") if secret else message


def accounts_import_csv(
    *,
    workspace: Workspace,
    stream: TextIO,
    skip_invalid: bool = False,
    create_groups: bool = False,
    dry_run: bool = False,
    actor=None,
) -> ImportReport:
    """Import accounts from CSV text with the header ``platform,handle,secret,language,group,proxy_url``.

    Every row is validated first. With errors and without ``skip_invalid``
    nothing is written; otherwise the valid rows are written in one
    transaction (all or none of them). ``dry_run`` runs the whole import and
    rolls it back. ``stream`` is text (open files with ``encoding="utf-8-sig"``);
    a leading byte-order mark is ignored either way.
    """
    report = ImportReport()
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
        if header is None:
            report.errors.append((1, f"the file is empty; the first row must be the header {','.join(COLUMNS)}."))
            return report
        if header:
            header[0] = header[0].removeprefix("\ufeff")
        if message := _header_error(header):
            report.errors.append((1, message))
            return report
        columns = [h.strip().lower() for h in header]
        # enumerate counts records, not physical lines: a quoted multi-line cell is one spreadsheet row.
        records = [(number, cells) for number, cells in enumerate(reader, start=2)]
    except csv.Error as exc:
        report.errors.append((reader.line_num, f"the file is not valid CSV (near line {reader.line_num}): {exc}."))
        return report
    except UnicodeDecodeError:
        report.errors.append((reader.line_num + 1, 'the file is not UTF-8 text; save it as "CSV UTF-8" and try again.'))
        return report

    rows = _parse_rows(records, columns, report)
    rows = _check_against_workspace(rows, workspace, create_groups, report)
    report.errors.sort(key=lambda e: e[0])
    if report.errors and not skip_invalid:
        return report
    report.skipped = len({number for number, _ in report.errors})

    with transaction.atomic():
        written = _write(rows, workspace, skip_invalid, actor, report)
        report.committed = written and not dry_run
        if report.committed:
            log_activity(
                action="accounts.import",
                workspace=workspace,
                actor=actor,
                status=LogStatus.SUCCESS,
                details={"created": report.created, "skipped": report.skipped, "rows": report.rows},
            )
        else:
            transaction.set_rollback(True)
    report.errors.sort(key=lambda e: e[0])
    if not written:
        report.created, report.skipped = 0, 0
        report.groups_created.clear()
        report.proxies_created.clear()
        report.proxies_assigned = 0
        report.without_proxy.clear()
    return report
