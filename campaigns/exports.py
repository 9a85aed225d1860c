"""A campaign as tables: Keywords, Clusters, Ads (Direct Commander's bulk-upload layout) and, when any
ad is flagged, Flagged — for the Google Sheet, the XLSX download and the CSV downloads.

The Ads tab follows Direct Commander's import rules ("File format and field population rules",
https://yandex.com/support/direct-commander-new/en/advanced/file-format): columns are recognised by
their Russian titles (order does not matter, missing columns are allowed); one cluster = one ad
group; every keyword on its own line carrying the group's main ad with "-" in "Доп. объявление
группы"; each further ad of the group on its own line with "+" and only the ad's fields. CSV/TXT
files must be UTF-8 with the tab character as the delimiter, field names on the first line — so
``campaign_csv`` writes exactly that (no BOM: the first column title must match as is; people who
open it in Excel use the XLSX instead).

Only VALID ads are exported as ads; flagged ones go to the Flagged tab with their problems (see
``stages/validate.py``), and a cluster with no valid ad is left out of the Ads tab (Commander needs
an ad per group) but keeps its keywords on the Keywords tab.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .models import Ad, AdStatus, Campaign, Cluster, Keyword

TABS = ("Keywords", "Clusters", "Ads", "Flagged")
AD_TYPE = "Текстово-графическое"
ADS_HEADER = [
    "Доп. объявление группы",
    "Тип объявления",
    "Номер группы",
    "Название группы",
    "Фраза (с минус-словами)",
    "Заголовок 1",
    "Заголовок 2",
    "Текст",
    "Ссылка",
    "Отображаемая ссылка",
    "Регион",
]
KEYWORDS_HEADER = ["Номер группы", "Название группы", "Фраза", "Частотность", "Леммы"]
CLUSTERS_HEADER = ["Номер группы", "Название группы", "Фраз", "Суммарная частотность", "Объявлений", "Отклонено проверкой"]
FLAGGED_HEADER = ["Номер группы", "Название группы", "Заголовок 1", "Заголовок 2", "Текст", "Отображаемая ссылка", "Проблемы"]
# Commander's Region column takes region names; the brief keeps Yandex geo ids. The common ones by
# name, any other by its id (Commander then asks to pick it).
REGION_NAMES = {
    225: "Россия",
    1: "Москва и область",
    213: "Москва",
    2: "Санкт-Петербург",
    10174: "Санкт-Петербург и Ленинградская область",
}


def phrase_with_minus(phrase: str, minus_words: list[str]) -> str:
    """Commander's "Фраза (с минус-словами)": the phrase, then each minus word as ``-word``."""
    minus = " ".join(f"-{w.lstrip('-').strip()}" for w in minus_words if w and w.strip("- "))
    return f"{phrase} {minus}".strip()


def _regions(campaign: Campaign) -> str:
    return ", ".join(REGION_NAMES.get(r, str(r)) for r in campaign.regions or [])


def campaign_tables(campaign: Campaign) -> dict[str, list[list]]:
    """Tab name → rows (the header first). Flagged is present only when an ad is flagged."""
    clusters = list(Cluster.objects.filter(campaign=campaign).order_by("position", "pk"))
    number = {c.pk: index + 1 for index, c in enumerate(clusters)}
    names = {c.pk: c.name for c in clusters}
    keywords = list(Keyword.objects.filter(campaign=campaign).order_by("cluster__position", "-frequency", "phrase"))
    ads = list(Ad.objects.filter(campaign=campaign).order_by("cluster__position", "position", "pk"))
    valid: dict[int, list[Ad]] = {}
    flagged_count: dict[int, int] = {}
    for ad in ads:
        if ad.status == AdStatus.VALID:
            valid.setdefault(ad.cluster_id, []).append(ad)
        else:
            flagged_count[ad.cluster_id] = flagged_count.get(ad.cluster_id, 0) + 1
    by_cluster: dict[int, list[Keyword]] = {}
    for keyword in keywords:
        if keyword.cluster_id is not None:
            by_cluster.setdefault(keyword.cluster_id, []).append(keyword)

    keyword_rows = [KEYWORDS_HEADER] + [
        [number.get(k.cluster_id, ""), names.get(k.cluster_id, ""), k.phrase, k.frequency, k.lemmas] for k in keywords
    ]
    cluster_rows = [CLUSTERS_HEADER] + [
        [number[c.pk], c.name, c.size, c.total_frequency, len(valid.get(c.pk, [])), flagged_count.get(c.pk, 0)] for c in clusters
    ]
    regions = _regions(campaign)
    minus = list(campaign.minus_words or [])
    ad_rows = [ADS_HEADER]
    for cluster in clusters:
        group_ads = valid.get(cluster.pk)
        if not group_ads:
            continue
        main, *extra = group_ads
        group = [AD_TYPE, number[cluster.pk], cluster.name]
        for keyword in by_cluster.get(cluster.pk, []) or [None]:
            phrase = phrase_with_minus(keyword.phrase if keyword else cluster.name, minus)
            ad_rows.append(["-", *group, phrase, *_ad_cells(main, campaign), regions])
        for ad in extra:
            ad_rows.append(["+", *group, "", *_ad_cells(ad, campaign), ""])
    tables = {"Keywords": keyword_rows, "Clusters": cluster_rows, "Ads": ad_rows}
    flagged = [ad for ad in ads if ad.status == AdStatus.FLAGGED]
    if flagged:
        tables["Flagged"] = [FLAGGED_HEADER] + [
            [
                number.get(ad.cluster_id, ""),
                names.get(ad.cluster_id, ""),
                ad.title1,
                ad.title2,
                ad.text,
                ad.display_path,
                "; ".join(p.get("message", "") for p in ad.problems or []),
            ]
            for ad in flagged
        ]
    return tables


def _ad_cells(ad: Ad, campaign: Campaign) -> list:
    return [ad.title1, ad.title2, ad.text, campaign.target_url, ad.display_path]


def campaign_xlsx(campaign: Campaign) -> bytes:
    """The workbook: one sheet per tab, headers bold and frozen, columns sized to their content."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in campaign_tables(campaign).items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        # openpyxl stores a string starting with "=" as a formula: phrases and ad texts are data, never
        # formulas (no =HYPERLINK(...) smuggled in through a keyword).
        for line in sheet.iter_rows():
            for cell in line:
                if cell.data_type == "f":
                    cell.data_type = "s"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        widths: dict[int, int] = {}
        for row in rows:
            for index, value in enumerate(row, start=1):
                widths[index] = max(widths.get(index, 0), len(str(value)))
        for index, width in widths.items():
            sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, width + 2))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def campaign_csv(campaign: Campaign, tab: str) -> str:
    """One tab as Commander's CSV/TXT: UTF-8 text, tab-delimited, field names first (no BOM)."""
    tables = campaign_tables(campaign)
    if tab not in TABS:
        raise ValueError(f"Choose one of {', '.join(TABS)}.")
    rows = tables.get(tab) or [FLAGGED_HEADER]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()
