"""Every text the bot can show exists in English and Russian.

Catalog-driven, so it covers texts added later: every string literal passed to a gettext function
in bot/**/*.py must have a Russian translation that differs from the English msgid (but for the
few identical by design) and keeps its placeholders; in English it is the msgid itself. The Russian
catalog is django.po plus the branches' locale/ru/pending-*.po, compiled for the test (the lead
merges the pending files into django.po). The reusable message builders are rendered in both."""

import ast
import asyncio
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiogram.types import Update, User
from django.utils import translation
from django.utils.translation import gettext, ngettext, npgettext, pgettext

from accounts.models import Role
from bot.app import COMMANDS, command_descriptions
from bot.handlers.start import help_text
from bot.middlewares import RateLimit
from bot.ui import menu_sections
from dashboard.selectors import Access

ROOT = Path(__file__).resolve().parents[2]
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
# Texts that read the same in Russian on purpose (brand names, symbols).
IDENTICAL = {"Telegram"}
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")

# name -> the argument positions of (context, singular, plural); None where the function has none.
FUNCTIONS = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


@dataclass(frozen=True)
class Text:
    where: str
    singular: str
    plural: str | None = None
    context: str | None = None


def literal(node: ast.Call, index: int | None) -> str | None:
    if index is None or index >= len(node.args):
        return None
    arg = node.args[index]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def bot_texts() -> list[Text]:
    texts = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in FUNCTIONS:
                continue
            context_at, singular_at, plural_at = FUNCTIONS[name]
            singular = literal(node, singular_at)
            if singular is not None:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                texts.append(Text(where, singular, literal(node, plural_at), literal(node, context_at)))
    return texts


def placeholders(text: str) -> list[str]:
    return sorted(name or "positional" for name in PLACEHOLDER.findall(text.replace("%%", "")))


def translated(text: Text, n: int = 1) -> str:
    if text.plural is not None:
        if text.context is not None:
            return npgettext(text.context, text.singular, text.plural, n)
        return ngettext(text.singular, text.plural, n)
    if text.context is not None:
        return pgettext(text.context, text.singular)
    return gettext(text.singular)


@pytest.fixture(scope="module")
def compiled_catalog(tmp_path_factory) -> Path:
    """django.po with every pending-*.po after it (django.po wins a clash), compiled."""
    ru = ROOT / "locale" / "ru"
    root = tmp_path_factory.mktemp("locale")
    target = root / "ru" / "LC_MESSAGES"
    target.mkdir(parents=True)
    merged = root / "merged.po"
    sources = [ru / "LC_MESSAGES" / "django.po", *sorted(ru.glob("pending-*.po"))]
    subprocess.run(["msgcat", "--use-first", "-o", str(merged), *map(str, sources)], check=True, capture_output=True)
    subprocess.run(["msgfmt", "--check-format", "-o", str(target / "django.mo"), str(merged)], check=True, capture_output=True)
    return root


@pytest.fixture
def catalog(settings, compiled_catalog):
    settings.LOCALE_PATHS = [compiled_catalog]  # Django drops its cached catalogs on this change
    yield
    translation.activate("en")


def test_it_finds_the_bot_texts():
    found = {text.singular for text in bot_texts()}
    assert "Cancelled." in found  # a handler's
    assert "Stop the current conversation" in found  # the command menu's
    assert "%(count)s Telegram accounts unlinked." in {text.plural for text in bot_texts()}  # an ngettext plural


def test_every_bot_text_exists_in_both_languages(catalog):
    problems = []
    for text in bot_texts():
        for n in (1, 2, 5) if text.plural else (1,):
            english_msgid = text.singular if n == 1 or text.plural is None else text.plural
            with translation.override("en"):
                english = translated(text, n)
            with translation.override("ru"):
                russian = translated(text, n)
            if english != english_msgid:
                problems.append(f"{text.where}: English is not the msgid: {english!r}")
            if russian == english_msgid and english_msgid not in IDENTICAL:
                problems.append(f"{text.where}: no Russian for {english_msgid!r}" + (f" (n={n})" if text.plural else ""))
            elif placeholders(russian) != placeholders(english_msgid):
                problems.append(f"{text.where}: placeholders differ in {russian!r} (msgid {english_msgid!r})")
    assert not problems, "\n".join(sorted(set(problems)))


def access(role: str) -> Access:
    return Access(superuser=False, roles={1: role})


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.ADMIN])
def test_the_help_and_the_menu_speak_both_languages(catalog, role):
    with translation.override("en"):
        english_help = help_text(access(role)).splitlines()
        english_menu = [label for _, label in menu_sections(access(role))]
    with translation.override("ru"):
        russian_help = help_text(access(role)).splitlines()
        russian_menu = [label for _, label in menu_sections(access(role))]
    assert len(russian_help) == len(english_help) >= 5
    assert all(CYRILLIC.search(line) for line in russian_help), russian_help
    assert not any(CYRILLIC.search(line) for line in english_help), english_help
    assert len(russian_menu) == len(english_menu) >= 4
    assert all(CYRILLIC.search(label) for label in russian_menu), russian_menu
    assert not any(CYRILLIC.search(label) for label in english_menu), english_menu


def test_the_command_menu_speaks_both_languages(catalog):
    with translation.override("en"):
        english = command_descriptions()
    with translation.override("ru"):
        russian = command_descriptions()
    assert list(english) == list(russian) == list(COMMANDS)
    for command in COMMANDS:
        assert not CYRILLIC.search(english[command]) and CYRILLIC.search(russian[command]), command


class Recorder:
    """Stands in for the Bot: records the methods a handler would call."""

    def __init__(self) -> None:
        self.sent = []

    async def __call__(self, method, request_timeout=None):
        self.sent.append(method)
        return True


@pytest.mark.parametrize(("language", "expected"), [("en", "Too many actions: at most 1 a minute"), ("ru", "Слишком много")])
def test_the_rate_limit_warning_speaks_the_senders_language(catalog, language, expected):
    bot = Recorder()
    sender = {"id": 7, "is_bot": False, "first_name": "Olga", "language_code": language}
    message = {"message_id": 1, "date": int(datetime(2026, 1, 1).timestamp()), "chat": {"id": 7, "type": "private"}}

    async def flood() -> None:
        limit = RateLimit(per_minute=1, clock=lambda: 1000.0)

        async def handler(event, data):
            return "done"

        for n in range(3):
            update = Update.model_validate(
                {"update_id": n, "message": {**message, "from": sender, "text": "/menu"}}, context={"bot": bot}
            )
            await limit(handler, update, {"event_from_user": User(**sender)})

    asyncio.run(flood())
    assert [method.text[: len(expected)] for method in bot.sent] == [expected]  # one warning, in their language


def test_every_action_the_bot_logs_has_a_label_for_the_activity_page():
    """bot_action(action="x") writes "bot.x"; the activity page and the admin show its label."""
    from crosspost.models import ACTION_LABELS

    source = "\n".join(path.read_text() for path in Path("bot").rglob("*.py"))
    written = {f"bot.{code}" for code in re.findall(r'action="([a-z_.]+)"', source) if not code.startswith("bot.")}
    written |= {f"bot.{code}" for code in re.findall(r'"(account\.(?:pause|resume))"', source)}
    written |= set(re.findall(r'action="(bot\.[a-z_.]+)"', source))
    written.discard("bot.store_true")  # argparse's, in the runbot command
    assert written and written <= set(ACTION_LABELS), sorted(written - set(ACTION_LABELS))
