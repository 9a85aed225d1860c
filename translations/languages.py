"""Language codes: accounts use BCP-47 (``en``, ``pt-BR``); DeepL wants its own
(``EN-US`` as a target, ``EN`` as a source). Names come from Django's table."""

import re

from django.conf.locale import LANG_INFO

from .exceptions import UnsupportedLanguage

CODE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")

# DeepL has no plain EN/PT target (deprecated) and two Chinese scripts: the
# region a bare code means, as CLDR's default locale for the language does.
DEEPL_DEFAULT_TARGET = {"EN": "EN-US", "PT": "PT-BR", "ZH": "ZH-HANS"}
DEEPL_REGION_FALLBACK = {
    "EN-AU": "EN-GB",
    "EN-NZ": "EN-GB",
    "EN-IE": "EN-GB",
    "EN-IN": "EN-GB",
    "ZH-CN": "ZH-HANS",
    "ZH-TW": "ZH-HANT",
}

# Used only when DeepL's /v2/languages cannot be read (the classic v2 list).
DEEPL_TARGETS_FALLBACK = frozenset(
    "AR BG CS DA DE EL EN-GB EN-US ES ET FI FR HE HU ID IT JA KO LT LV NB NL PL PT-BR PT-PT RO RU SK SL SV TH TR UK VI "
    "ZH ZH-HANS ZH-HANT".split()
)
DEEPL_SOURCES_FALLBACK = frozenset(
    "AR BG CS DA DE EL EN ES ET FI FR HE HU ID IT JA KO LT LV NB NL PL PT RO RU SK SL SV TH TR UK VI ZH".split()
)


def check_code(code: str) -> str:
    """``code`` as a normalised BCP-47 tag (``pt-BR``); UnsupportedLanguage when it is not one."""
    if not isinstance(code, str) or not CODE.match(code or ""):
        raise UnsupportedLanguage(f"{code!r} is not a language code: use a BCP-47 code such as de, en-GB or pt-BR.")
    base, *rest = code.replace("_", "-").split("-")
    return "-".join([base.lower(), *(part.upper() if len(part) == 2 else part.title() for part in rest)])


def base_language(code: str) -> str:
    return code.replace("_", "-").split("-")[0].lower()


def same_language(a: str, b: str) -> bool:
    """en, en-US and EN-GB are one language for a caption; pt-BR and pt-PT too."""
    return base_language(a) == base_language(b)


def language_name(code: str) -> str:
    """English name for prompts: ``pt-BR`` → "Brazilian Portuguese", ``de-AT`` → "German (AT)"."""
    lowered = code.lower()
    if lowered in LANG_INFO and "name" in LANG_INFO[lowered]:
        return LANG_INFO[lowered]["name"]
    base = base_language(code)
    info = LANG_INFO.get(base, {})
    if "name" not in info:
        raise UnsupportedLanguage(f"Unknown language code {code!r}: use a BCP-47 code such as de, en-GB or pt-BR.")
    region = code[len(base) + 1 :]
    return f"{info['name']} ({region})" if region else info["name"]


def deepl_target(code: str, supported: frozenset[str]) -> str:
    """The DeepL target code for an account language, checked against ``supported`` (upper case)."""
    wanted = check_code(code).upper()
    base = wanted.split("-")[0]
    for candidate in (wanted, DEEPL_REGION_FALLBACK.get(wanted), base, DEEPL_DEFAULT_TARGET.get(base)):
        if candidate and candidate in supported and candidate not in DEEPL_DEFAULT_TARGET:
            return candidate
    raise UnsupportedLanguage(f"DeepL cannot translate into {code!r}. Supported targets: {', '.join(sorted(supported))}.")


def deepl_source(code: str, supported: frozenset[str]) -> str:
    """DeepL source codes carry no region: ``en-GB`` → ``EN``."""
    base = check_code(code).split("-")[0].upper()
    if base not in supported:
        raise UnsupportedLanguage(f"DeepL cannot translate from {code!r}. Supported sources: {', '.join(sorted(supported))}.")
    return base
