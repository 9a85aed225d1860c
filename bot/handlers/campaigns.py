"""Ad campaigns in the bot: the New-campaign conversation and the member's campaign history.

The conversation follows seed 002's steps — name → product description → base keywords → region →
target URL → budget (optional) → confirm — one ``NewCampaign`` state each, the answers kept in the FSM
data as plain JSON (a bot restarted in the middle continues). Every answer is checked with the
campaign services' own rules (``clean_brief``, ``check_target_url``) as it comes, and the reply says
what to fix. Start makes the campaign with ``campaign_create`` and runs it with ``campaign_run``, as
the member, in a workspace where they are an editor; then one message shows the run's progress
(``bot.campaign_progress`` keeps editing it) with Cancel while it runs and Resume when it stopped.

History lists the campaigns of the member's workspaces, newest first, a page at a time; a campaign's
card shows its brief, counts and sheet link, with Run again / Resume, Repeat (a new campaign with
the same brief, run at once) and Delete (with a confirm step) for editors. Viewers read only.
"""

from __future__ import annotations

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.selectors import scope
from campaigns.models import Campaign, CampaignStatus, Stage
from campaigns.regions import search_regions
from campaigns.runner import campaign_run
from campaigns.services import (
    EDITABLE_FIELDS,
    MAX_BASE_KEYWORDS,
    campaign_cancel,
    campaign_create,
    campaign_delete,
    clean_brief,
)
from crosspost.logging import redact
from crosspost.models import Job, LogStatus
from dashboard.selectors import Access, workspaces_with_role

from ..campaign_progress import (
    CampaignAct,
    act_button,
    campaign_progress_register,
    campaign_progress_start,
    dashboard_hint,
)
from ..models import TelegramLink
from ..services import bot_action
from ..ui import TYPED, back_button, cancel_button, keyboard, progress_bar
from . import Routes
from .screens import (
    Refused,
    Screen,
    ask_workspace,
    drop_buttons,
    local_time,
    menu_button,
    respond,
    role_needed,
    say,
    section_entry,
    short,
    zone_of,
)

routes = Routes("campaigns")

PER_PAGE = 8
REGIONS_SHOWN = 8
NAME_LIMIT = 120  # Campaign.name's max_length
KEYWORDS_SHOWN = 10
ICONS = {
    CampaignStatus.DRAFT: "📝",
    CampaignStatus.PROCESSING: "⏳",
    CampaignStatus.COMPLETED: "✅",
    CampaignStatus.FAILED: "❌",
    CampaignStatus.CANCELLED: "🚫",
    CampaignStatus.ARCHIVED: "🗄",
}


class NewCampaign(StatesGroup):
    workspace = State()
    name = State()
    product = State()
    keywords = State()
    region = State()
    url = State()
    budget = State()
    confirm = State()


class CampaignStep(CallbackData, prefix="cn"):
    """A button of the conversation: ``act`` (new, ws, rg, rgall, rgnext, skip, start, back) and its
    argument (a workspace or region id, the step to go back to)."""

    act: str
    arg: str = ""


class CampaignList(CallbackData, prefix="cl"):
    """A page of the member's campaigns."""

    pg: int = 1


def step_button(text: str, act: str, arg: object = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=CampaignStep(act=act, arg=str(arg)).pack())


def nav(back_to: str | None) -> list[InlineKeyboardButton]:
    """Back (to ``back_to``) and Cancel: the last row of every step."""
    row = [back_button(CampaignStep(act="back", arg=back_to).pack())] if back_to else []
    return [*row, cancel_button()]


def reason(exc: ValidationError, field: str | None = None) -> str:
    """The service's message(s) for ``field`` (or all of them)."""
    if field and hasattr(exc, "error_dict") and field in exc.message_dict:
        return " ".join(exc.message_dict[field])
    return " ".join(str(m) for m in exc.messages)


# --- reading and writing (sync: called through sync_to_async) --------------------------------------


def _check(field: str, value) -> object:
    """``value`` as the brief's ``field`` after the services' checks; ValidationError otherwise."""
    return clean_brief({field: value})[field]


def _regions(query: str) -> list[list]:
    return [[geo_id, name] for geo_id, name in search_regions(query, limit=REGIONS_SHOWN)]


def _visible(user, campaign_id: int) -> Campaign:
    campaign = scope(Campaign.objects.select_related("workspace", "job"), user).filter(pk=campaign_id).first()
    if campaign is None:
        raise Refused(_("Campaign not found: it was deleted, or it is not in your workspaces."))
    return campaign


def _editable(user, access: Access, campaign_id: int) -> Campaign:
    """The campaign for a write: not found outside the member's workspaces, refused below editor."""
    campaign = _visible(user, campaign_id)
    if not access.can(campaign.workspace_id, Role.EDITOR):
        raise role_needed(Role.EDITOR)
    return campaign


def _run(link: TelegramLink, campaign: Campaign) -> Job:
    job = campaign_run(campaign=campaign, actor=link.user)
    campaign.refresh_from_db()
    return job


@transaction.atomic
def _start(link: TelegramLink, data: dict) -> tuple[Campaign, Job]:
    """Create the campaign from the conversation's answers and start its run (both, or neither)."""
    user = link.user
    workspace = workspaces_with_role(user, Role.EDITOR).filter(pk=data["ws"]).first()
    if workspace is None:
        raise ValidationError(_("You are no longer an editor in this workspace."))
    campaign = campaign_create(
        workspace=workspace,
        author=user,
        name=data["name"],
        product_description=data["product"],
        target_url=data["url"],
        base_keywords=data["keywords"],
        regions=[geo_id for geo_id, _name in data.get("regions", [])],
        budget=data.get("budget") or None,
    )
    job = _run(link, campaign)
    bot_action(
        link=link,
        action="campaign.create",
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» created and started.",
        workspace=workspace,
        details={"campaign": campaign.pk, "job": job.pk},
    )
    return campaign, job


def _resume(link: TelegramLink, access: Access, campaign_id: int) -> tuple[Campaign, Job]:
    campaign = _editable(link.user, access, campaign_id)
    job = _run(link, campaign)
    bot_action(
        link=link,
        action="campaign.run",
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} «{campaign}» run again from stage {job.stage}.",
        workspace=campaign.workspace,
        details={"campaign": campaign.pk, "job": job.pk},
    )
    return campaign, job


@transaction.atomic
def _repeat(link: TelegramLink, access: Access, campaign_id: int) -> tuple[Campaign, Job]:
    """A new campaign with the same brief, started at once (the original keeps its results)."""
    original = _editable(link.user, access, campaign_id)
    brief = {name: getattr(original, name) for name in EDITABLE_FIELDS}
    campaign = campaign_create(workspace=original.workspace, author=link.user, **brief)
    job = _run(link, campaign)
    bot_action(
        link=link,
        action="campaign.repeat",
        status=LogStatus.SUCCESS,
        message=f"Campaign #{campaign.pk} made from #{original.pk}'s brief and started.",
        workspace=campaign.workspace,
        details={"campaign": campaign.pk, "from": original.pk, "job": job.pk},
    )
    return campaign, job


def _cancel_run(link: TelegramLink, access: Access, campaign_id: int) -> Campaign:
    campaign = _editable(link.user, access, campaign_id)
    campaign_cancel(campaign=campaign, actor=link.user)
    bot_action(
        link=link,
        action="campaign.cancel",
        message=f"Cancel of campaign #{campaign.pk}'s run requested.",
        workspace=campaign.workspace,
        details={"campaign": campaign.pk},
    )
    return campaign


def _delete(link: TelegramLink, access: Access, campaign_id: int) -> str:
    campaign = _editable(link.user, access, campaign_id)
    name, pk, workspace = campaign.name, campaign.pk, campaign.workspace
    campaign_delete(campaign=campaign, actor=link.user)
    bot_action(
        link=link,
        action="campaign.delete",
        status=LogStatus.SUCCESS,
        message=f"Campaign #{pk} «{name}» deleted.",
        workspace=workspace,
        details={"campaign": pk},
    )
    return name


# --- history screens ---------------------------------------------------------------------------------


def campaigns_screen(user, access: Access, page: int = 1, notice: str = "") -> Screen:
    queryset = scope(Campaign.objects.all(), user).annotate(
        n_clusters=Count("clusters", distinct=True), n_ads=Count("ads", distinct=True)
    )
    shown = Paginator(queryset.order_by("-created_at", "-pk"), PER_PAGE).get_page(page)
    title = _("Ad campaigns")
    if shown.paginator.num_pages > 1:
        title += " " + _("(page %(page)d of %(pages)d)") % {"page": shown.number, "pages": shown.paginator.num_pages}
    lines = [notice, ""] if notice else []
    lines += [title, ""]
    for campaign in shown:
        lines.append(
            f"{ICONS.get(campaign.status, '•')} #{campaign.pk} {short(campaign.name, 40)} · {campaign.get_status_display()}"
            + (" · " + _("%(clusters)d clusters, %(ads)d ads") % {"clusters": campaign.n_clusters, "ads": campaign.n_ads})
        )
    if not shown.object_list:
        lines.append(_("No campaigns yet."))
    opens = [act_button(f"#{c.pk}", c.pk, "open", shown.number) for c in shown]
    paging = []
    if shown.has_previous():
        paging.append(InlineKeyboardButton(text="‹ " + _("Prev"), callback_data=CampaignList(pg=shown.number - 1).pack()))
    if shown.has_next():
        paging.append(InlineKeyboardButton(text=_("Next") + " ›", callback_data=CampaignList(pg=shown.number + 1).pack()))
    new = [step_button("➕ " + _("New campaign"), "new")] if access.can_anywhere(Role.EDITOR) else []
    return Screen("\n".join(lines), keyboard(*[opens[i : i + 4] for i in range(0, len(opens), 4)], paging, new, [menu_button()]))


def region_names(ids: list[int]) -> str:
    """ "Москва (213), …", or "everywhere" for no regions."""
    if not ids:
        return _("everywhere")
    names = []
    for geo_id in ids:
        found = [name for rid, name in search_regions(str(geo_id), limit=REGIONS_SHOWN) if rid == geo_id]
        names.append(f"{found[0]} ({geo_id})" if found else str(geo_id))
    return ", ".join(names)


def brief_lines(*, name: str, product: str, keywords: list[str], regions: str, url: str, budget) -> list[str]:
    shown = ", ".join(keywords[:KEYWORDS_SHOWN]) + (" …" if len(keywords) > KEYWORDS_SHOWN else "")
    return [
        _("Name: %(name)s") % {"name": name},
        _("Product: %(product)s") % {"product": short(product, 300)},
        _("Base keywords (%(count)d): %(list)s") % {"count": len(keywords), "list": shown},
        _("Regions: %(regions)s") % {"regions": regions},
        _("Target URL: %(url)s") % {"url": url},
        _("Budget: %(budget)s") % {"budget": budget if budget not in (None, "") else _("not set")},
    ]


def campaign_card(user, access: Access, campaign_id: int, page: int = 1, notice: str = "") -> Screen:
    campaign = _visible(user, campaign_id)
    job = campaign.job
    lines = [notice, ""] if notice else []
    lines += [
        f"{ICONS.get(campaign.status, '•')} #{campaign.pk} «{short(campaign.name, 80)}»",
        _("Status: %(status)s") % {"status": campaign.get_status_display()},
        _("Workspace: %(workspace)s") % {"workspace": campaign.workspace.name},
        "",
        *brief_lines(
            name=campaign.name,
            product=campaign.product_description,
            keywords=campaign.base_keywords,
            regions=region_names(campaign.regions),
            url=campaign.target_url,
            budget=campaign.budget,
        ),
        "",
    ]
    running = job is not None and not job.finished
    if running:
        stage = str(Stage(job.stage).label) if job.stage in Stage.values else job.stage
        lines.append(f"{progress_bar(job.progress, 100)} · {stage}")
    elif job is not None and job.error and campaign.status == CampaignStatus.FAILED:
        lines.append(_("Failed: %(error)s") % {"error": short(redact(job.error), 300)})
    keywords, clusters, ads = campaign.keywords.count(), campaign.clusters.count(), campaign.ads.count()
    flagged = campaign.ads.filter(status="flagged").count()
    lines.append(
        _("Keywords: %(keywords)d · clusters: %(clusters)d · ads: %(ads)d (%(flagged)d flagged)")
        % {"keywords": keywords, "clusters": clusters, "ads": ads, "flagged": flagged}
    )
    if campaign.sheet_url:
        lines.append(_("Google Sheet: %(url)s") % {"url": campaign.sheet_url})
    if ads:
        lines.append(dashboard_hint(campaign))
    lines.append(_("Created: %(when)s") % {"when": local_time(campaign.created_at, zone_of(user))})

    writes = []
    if access.can(campaign.workspace_id, Role.EDITOR):
        if running:
            writes.append([act_button("✖ " + _("Cancel the run"), campaign.pk, "cancel", page)])
        elif campaign.status != CampaignStatus.ARCHIVED:
            resumable = campaign.status in (CampaignStatus.FAILED, CampaignStatus.CANCELLED)
            label = "▶ " + (_("Resume") if resumable else _("Run again"))
            writes.append([act_button(label, campaign.pk, "resume", page)])
            writes.append([act_button("🔁 " + _("Repeat as a new campaign"), campaign.pk, "repeat", page)])
        if not running:
            writes.append([act_button("🗑 " + _("Delete"), campaign.pk, "delete", page)])
    return Screen(
        "\n".join(lines),
        keyboard(
            *writes,
            [act_button("↻ " + _("Refresh"), campaign.pk, "open", page)],
            [back_button(CampaignList(pg=page).pack()), menu_button()],
        ),
    )


def delete_confirm(user, access: Access, campaign_id: int, page: int = 1) -> Screen:
    campaign = _editable(user, access, campaign_id)
    text = _("Delete campaign #%(id)d «%(name)s» with its keywords, clusters and ads? This cannot be undone.") % {
        "id": campaign.pk,
        "name": campaign.name,
    }
    return Screen(
        text,
        keyboard(
            [act_button("🗑 " + _("Yes, delete"), campaign.pk, "delete_ok", page)],
            [back_button(CampaignAct(id=campaign.pk, act="open", pg=page).pack())],
        ),
    )


# --- the conversation's steps: each asks its question and sets its state ----------------------------


async def begin(event: Message | CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    if not access.can_anywhere(Role.EDITOR):
        await say(event, _("Your role is viewer: you can see the campaigns (/campaigns), but not create or run them."))
        return
    await state.clear()
    ws = await ask_workspace(
        event,
        state,
        link,
        waiting=NewCampaign.workspace,
        question=_("New ad campaign. In which workspace?"),
        button=lambda name, pk: step_button(name, "ws", pk),
    )
    if ws is not None:
        await ask_name(event, state, ws=ws)


async def ask_name(event, state: FSMContext, ws: int | None = None) -> None:
    if ws is not None:
        await state.set_data({"ws": ws})
    await state.set_state(NewCampaign.name)
    await say(
        event,
        _("New ad campaign for Yandex Direct. What shall we call it? (e.g. Linen dresses — spring)"),
        keyboard(nav(None)),
    )


async def ask_product(event, state: FSMContext) -> None:
    await state.set_state(NewCampaign.product)
    await say(
        event,
        _("Describe the product in a few sentences: what it is, for whom, what makes it better. The ads are written from this."),
        keyboard(nav("name")),
    )


async def ask_keywords(event, state: FSMContext) -> None:
    await state.set_state(NewCampaign.keywords)
    await say(
        event,
        _("Send the base keywords, one per line or separated by commas (1 to %(max)d), e.g. linen dress, summer dress.")
        % {"max": MAX_BASE_KEYWORDS},
        keyboard(nav("product")),
    )


def region_markup(found: list[list], chosen: list[list]):
    chosen_ids = {geo_id for geo_id, _name in chosen}
    rows = [[step_button(("✓ " if geo_id in chosen_ids else "") + name, "rg", geo_id)] for geo_id, name in found]
    next_row = [step_button(_("Next") + " →", "rgnext")] if chosen else []
    return keyboard(*rows, next_row, [step_button("🌍 " + _("Everywhere"), "rgall")], nav("keywords"))


def region_text(chosen: list[list], note: str = "") -> str:
    lines = [note] if note else []
    lines.append(_("Where should the ads show? Type a city or region to search (e.g. Moscow), tap one below, or Everywhere."))
    if chosen:
        lines.append(_("Chosen: %(regions)s. Tap Next when done.") % {"regions": ", ".join(name for _id, name in chosen)})
    return "\n".join(lines)


async def ask_region(event, state: FSMContext, query: str = "") -> None:
    found = await sync_to_async(_regions)(query)
    data = await state.get_data()
    chosen = data.get("regions", [])
    note = ""
    if query and not found:
        note = _("No region matches “%(query)s”. Try another name.") % {"query": short(query, 40)}
        found = data.get("found", [])
    await state.update_data(found=found)
    await state.set_state(NewCampaign.region)
    await say(event, region_text(chosen, note), region_markup(found, chosen))


async def ask_url(event, state: FSMContext) -> None:
    await state.set_state(NewCampaign.url)
    text = _("The landing page the ads lead to (http:// or https://), e.g. https://shop.example/linen-dress.")
    await say(event, text, keyboard(nav("region")))


async def ask_budget(event, state: FSMContext) -> None:
    await state.set_state(NewCampaign.budget)
    await say(
        event,
        _("The budget (optional): type an amount, e.g. 15000, or tap Skip."),
        keyboard([step_button(_("Skip") + " →", "skip")], nav("url")),
    )


async def ask_confirm(event, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(NewCampaign.confirm)
    regions = ", ".join(f"{name} ({geo_id})" for geo_id, name in data.get("regions", [])) or _("everywhere")
    lines = [_("Check the brief:"), ""]
    lines += brief_lines(
        name=data["name"],
        product=data["product"],
        keywords=data["keywords"],
        regions=regions,
        url=data["url"],
        budget=data.get("budget"),
    )
    lines += ["", _("Start collects keywords from Wordstat, clusters them, writes and exports the ads: a few minutes.")]
    await say(event, "\n".join(lines), keyboard([step_button("🚀 " + _("Start"), "start")], nav("budget")))


async def show_run(event, campaign: Campaign, job: Job, link: TelegramLink) -> None:
    """The run's progress message, which the progress editor keeps up to date from now on."""
    text, markup = await sync_to_async(campaign_progress_start)(campaign=campaign, job=job)
    sent = await say(event, text, markup)
    await sync_to_async(campaign_progress_register)(
        campaign=campaign, job=job, link=link, chat_id=sent.chat.id, message_id=sent.message_id, text=text
    )


# --- entry points -----------------------------------------------------------------------------------


@routes.message(Command("campaign"))
async def campaign_command(message: Message, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await begin(message, state, link, access)


@routes.callback_query(CampaignStep.filter(F.act == "new"))
async def new_button(query: CallbackQuery, state: FSMContext, link: TelegramLink, access: Access) -> None:
    await query.answer()
    await begin(query, state, link, access)


section_entry(routes, "campaigns", campaigns_screen, lambda link, access: (link.user, access))


@routes.callback_query(CampaignList.filter())
async def campaigns_page(query: CallbackQuery, callback_data: CampaignList, link: TelegramLink, access: Access) -> None:
    await respond(query, campaigns_screen, link.user, access, callback_data.pg)


# --- the steps' answers -----------------------------------------------------------------------------


@routes.callback_query(NewCampaign.workspace, CampaignStep.filter(F.act == "ws"))
async def workspace_chosen(query: CallbackQuery, callback_data: CampaignStep, state: FSMContext, access: Access) -> None:
    await query.answer()
    ws = int(callback_data.arg) if callback_data.arg.isdigit() else 0
    if not access.can(ws, Role.EDITOR):
        await say(query, _("Workspace not found."))
        return
    await ask_name(query, state, ws=ws)


@routes.message(NewCampaign.name, TYPED)
async def name_typed(message: Message, state: FSMContext) -> None:
    name = " ".join(message.text.split())
    if len(name) > NAME_LIMIT:
        await message.answer(_("The name is longer than %(max)d characters; send a shorter one.") % {"max": NAME_LIMIT})
        return
    await state.update_data(name=name)
    await ask_product(message, state)


@routes.message(NewCampaign.product, TYPED)
async def product_typed(message: Message, state: FSMContext) -> None:
    await state.update_data(product=message.text.strip())
    await ask_keywords(message, state)


@routes.message(NewCampaign.keywords, TYPED)
async def keywords_typed(message: Message, state: FSMContext) -> None:
    try:
        keywords = await sync_to_async(_check)("base_keywords", message.text)
    except ValidationError as exc:
        text = _("These keywords do not work: %(reason)s Send them again.") % {"reason": reason(exc, "base_keywords")}
        await message.answer(text)
        return
    await state.update_data(keywords=keywords)
    await ask_region(message, state)


@routes.message(NewCampaign.region, TYPED)
async def region_typed(message: Message, state: FSMContext) -> None:
    await ask_region(message, state, query=message.text.strip())


@routes.callback_query(NewCampaign.region, CampaignStep.filter(F.act.in_({"rg", "rgall", "rgnext"})))
async def region_tapped(query: CallbackQuery, callback_data: CampaignStep, state: FSMContext) -> None:
    data = await state.get_data()
    if callback_data.act == "rgall":
        await query.answer()
        await state.update_data(regions=[], found=[])
        await ask_url(query, state)
        return
    chosen: list[list] = data.get("regions", [])
    if callback_data.act == "rgnext":
        await query.answer()
        await ask_url(query, state)
        return
    found = data.get("found", [])
    geo_id = int(callback_data.arg) if callback_data.arg.isdigit() else 0
    picked = next((row for row in found if row[0] == geo_id), None)
    if picked is None:
        await query.answer(_("This region is not in the list any more: search again."), show_alert=True)
        return
    chosen = [row for row in chosen if row[0] != geo_id] if geo_id in {r[0] for r in chosen} else [*chosen, picked]
    await state.update_data(regions=chosen)
    await query.answer()
    if query.message is not None:
        try:
            await query.message.edit_text(region_text(chosen), reply_markup=region_markup(found, chosen))
        except TelegramBadRequest:
            pass  # nothing changed


@routes.message(NewCampaign.url, TYPED)
async def url_typed(message: Message, state: FSMContext) -> None:
    try:
        url = await sync_to_async(_check)("target_url", message.text)
    except ValidationError as exc:
        await message.answer(_("This URL does not work: %(reason)s Send it again.") % {"reason": reason(exc, "target_url")})
        return
    await state.update_data(url=url)
    await ask_budget(message, state)


@routes.message(NewCampaign.budget, TYPED)
async def budget_typed(message: Message, state: FSMContext) -> None:
    value = message.text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        budget = await sync_to_async(_check)("budget", value)
    except ValidationError as exc:
        text = _("This budget does not work: %(reason)s Send it again, or tap Skip.") % {"reason": reason(exc, "budget")}
        await message.answer(text)
        return
    await state.update_data(budget=str(budget) if budget is not None else None)
    await ask_confirm(message, state)


@routes.callback_query(NewCampaign.budget, CampaignStep.filter(F.act == "skip"))
async def budget_skipped(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await state.update_data(budget=None)
    await ask_confirm(query, state)


@routes.callback_query(NewCampaign.confirm, CampaignStep.filter(F.act == "start"))
async def start(query: CallbackQuery, state: FSMContext, link: TelegramLink) -> None:
    await query.answer()
    data = await state.get_data()
    try:
        campaign, job = await sync_to_async(_start)(link, data)
    except ValidationError as exc:
        await say(query, _("Not started: %(reason)s") % {"reason": reason(exc)}, keyboard(nav("budget")))
        return
    await state.clear()
    await drop_buttons(query)
    await show_run(query, campaign, job, link)


@routes.callback_query(StateFilter(NewCampaign), CampaignStep.filter(F.act == "back"))
async def back(query: CallbackQuery, callback_data: CampaignStep, state: FSMContext) -> None:
    await query.answer()
    steps = {
        "name": ask_name,
        "product": ask_product,
        "keywords": ask_keywords,
        "region": ask_region,
        "url": ask_url,
        "budget": ask_budget,
    }
    await steps.get(callback_data.arg, ask_name)(query, state)


@routes.callback_query(CampaignStep.filter())
async def stale_button(query: CallbackQuery) -> None:
    """A button of a step the conversation has left (or of a cancelled one)."""
    await query.answer(_("This button is no longer active. Start again with /campaign."), show_alert=True)


@routes.message(StateFilter(NewCampaign), ~F.text.startswith("/"))
async def unexpected(message: Message, state: FSMContext) -> None:
    """Something this step does not take (a sticker, a photo…)."""
    step = await state.get_state()
    if step in (NewCampaign.workspace.state, NewCampaign.confirm.state):
        text = _("Use the buttons above, or /cancel.")
    else:
        text = _("Send a text, or /cancel.")
    await message.answer(text)


# --- a campaign's buttons (the history card and the progress message) --------------------------------


@routes.callback_query(CampaignAct.filter(F.act == "open"))
async def open_card(query: CallbackQuery, callback_data: CampaignAct, link: TelegramLink, access: Access) -> None:
    await respond(query, campaign_card, link.user, access, callback_data.id, callback_data.pg)


@routes.callback_query(CampaignAct.filter(F.act == "cancel"))
async def cancel_run(query: CallbackQuery, callback_data: CampaignAct, link: TelegramLink, access: Access) -> None:
    try:
        await sync_to_async(_cancel_run)(link, access, callback_data.id)
    except Refused as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    except ValidationError as exc:
        await query.answer(reason(exc)[:200], show_alert=True)
        return
    toast = _("Cancel requested: the run stops after the current step.")
    if callback_data.pg:  # from the card: show it again; the progress message is edited by its editor
        await respond(query, campaign_card, link.user, access, callback_data.id, callback_data.pg, notice=toast)
    else:
        await query.answer(toast)


@routes.callback_query(CampaignAct.filter(F.act.in_({"resume", "repeat"})))
async def run_again(query: CallbackQuery, callback_data: CampaignAct, link: TelegramLink, access: Access) -> None:
    action = _repeat if callback_data.act == "repeat" else _resume
    try:
        campaign, job = await sync_to_async(action)(link, access, callback_data.id)
    except Refused as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    except ValidationError as exc:
        await query.answer(reason(exc)[:200], show_alert=True)
        return
    await query.answer(_("Started."))
    if not callback_data.pg:  # the stopped run's Resume has done its work (a history card keeps its buttons)
        await drop_buttons(query)
    await show_run(query, campaign, job, link)


@routes.callback_query(CampaignAct.filter(F.act == "delete"))
async def delete_asked(query: CallbackQuery, callback_data: CampaignAct, link: TelegramLink, access: Access) -> None:
    await respond(query, delete_confirm, link.user, access, callback_data.id, callback_data.pg or 1)


@routes.callback_query(CampaignAct.filter(F.act == "delete_ok"))
async def delete_done(query: CallbackQuery, callback_data: CampaignAct, link: TelegramLink, access: Access) -> None:
    try:
        name = await sync_to_async(_delete)(link, access, callback_data.id)
    except Refused as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    except ValidationError as exc:
        await query.answer(reason(exc)[:200], show_alert=True)
        return
    notice = _("Campaign «%(name)s» deleted.") % {"name": name}
    await respond(query, campaigns_screen, link.user, access, callback_data.pg or 1, notice=notice)
