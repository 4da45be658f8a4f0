"""The benchmark's baseline: a stock python-telegram-bot bot over the same questions.

Written the way the library's own examples teach: one ``ConversationHandler`` with a state
per question, answers in ``context.user_data``, ``PicklePersistence`` with its default
settings, the default HTTP client (httpx) and ``run_polling``. It shows the same questions,
buttons and results as this bot (rendered from the same content), makes the same Bot API
calls for each tap (answer the press, edit the answered question, send the next one) and
handles updates one at a time, as the library does by default.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=... STOCK_PICKLE=state.pickle python -m bench.stock_bot
"""

from __future__ import annotations

import os
import secrets
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    Defaults,
    PicklePersistence,
)

from bot.conversation.content import load_content  # noqa: E402
from bot.conversation.engine import Conversation, Engine  # noqa: E402
from bot.conversation.flow import DONE  # noqa: E402

CONTENT = load_content(ROOT)
FLOW = CONTENT.flow
UI = CONTENT.ui
ENGINE = Engine(CONTENT)  # used only to render the results text, as the content defines it
WELCOME, SUMMARY, FINISHED = "welcome", "summary", "finished"


def said(answers: dict[str, Any]) -> dict[str, str]:
    out = {}
    for q in FLOW.path(answers):
        value = answers.get(q.id)
        if value is None:
            continue
        if q.kind == "text":
            out[q.id] = value or UI.skipped_answer
        else:
            out[q.id] = ", ".join(CONTENT.words(q, [value] if isinstance(value, str) else value))
    return out


def question(
    qid: str, answers: dict[str, Any], draft: list[str]
) -> tuple[str, InlineKeyboardMarkup]:
    q = FLOW.by_id[qid]
    pos = FLOW.position(q.id, answers)
    text = CONTENT.render(
        "question.j2",
        body=CONTENT.question_body(q, said(answers)),
        number=pos.number,
        total=pos.total,
        kind=q.kind,
        scale=q.scale.model_dump() if q.scale else None,
        optional=q.optional,
        max_length=q.max_length,
        earlier=False,  # no follow-up checks in the stock bot
        options=len(FLOW.choices(q, answers)),
    )
    buttons = []
    for option in FLOW.choices(q, answers):
        if q.kind == "multi":
            mark = UI.marks.selected if option.code in draft else UI.marks.unselected
            buttons.append(
                InlineKeyboardButton(f"{mark} {option.label}", callback_data=f"t:{option.code}")
            )
        else:
            buttons.append(InlineKeyboardButton(option.label, callback_data=f"a:{option.code}"))
    per_row = len(buttons) if q.kind == "scale" else q.columns
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    nav = [InlineKeyboardButton(UI.buttons.back, callback_data="b")]
    if q.kind == "multi":
        nav.append(InlineKeyboardButton(UI.buttons.done, callback_data="d"))
    if q.kind == "text" and q.optional:
        nav.append(InlineKeyboardButton(UI.buttons.skip, callback_data="s"))
    rows.append(nav)
    return text, InlineKeyboardMarkup(rows)


def summary(answers: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    words = said(answers)
    path = FLOW.path(answers)
    items = [
        {"number": i, "label": q.label, "answer": words.get(q.id, "")}
        for i, q in enumerate(path, start=1)
    ]
    text = CONTENT.render("summary.j2", items=items, removed=[])
    changes = [
        InlineKeyboardButton(UI.buttons.change.format(label=q.label), callback_data=f"c:{q.id}")
        for q in path
    ]
    rows = [changes[i : i + 2] for i in range(0, len(changes), 2)]
    rows.append(
        [
            InlineKeyboardButton(UI.buttons.back, callback_data="b"),
            InlineKeyboardButton(UI.buttons.confirm, callback_data="ok"),
        ]
    )
    return text, InlineKeyboardMarkup(rows)


async def show_next(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    data = context.user_data
    missing = FLOW.unanswered(data["answers"])
    chat = update.effective_chat
    assert chat is not None
    if missing:
        data["at"], data["draft"] = missing[0].id, []
        text, markup = question(missing[0].id, data["answers"], [])
        await chat.send_message(text, reply_markup=markup)
        return missing[0].id
    text, markup = summary(data["answers"])
    await chat.send_message(text, reply_markup=markup)
    return SUMMARY


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    context.user_data.clear()
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(UI.buttons.start, callback_data="go")],
            [
                InlineKeyboardButton(UI.buttons.privacy, callback_data="pv"),
                InlineKeyboardButton(UI.buttons.not_now, callback_data="nn"),
            ],
        ]
    )
    text = CONTENT.render(
        "welcome.j2", returning=False, contact=ENGINE.contact, channel=ENGINE.channel
    )
    assert update.message is not None
    await update.message.reply_text(text, reply_markup=markup)
    return WELCOME


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    context.user_data.update(answers={}, started="2026-01-01T00:00:00+00:00")
    return await show_next(update, context)


async def on_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    query = update.callback_query
    assert query is not None and query.data is not None
    data = context.user_data
    q = FLOW.by_id[data["at"]]
    answers = data["answers"]
    if query.data.startswith("t:"):
        code = query.data[2:]
        draft = data["draft"]
        data["draft"] = [c for c in draft if c != code] if code in draft else [*draft, code]
        await query.answer()
        text, markup = question(q.id, answers, data["draft"])
        await query.edit_message_text(text, reply_markup=markup)
        return q.id
    if query.data == "b":
        await query.answer()
        path = [x.id for x in FLOW.path(answers)]
        back = path[max(path.index(q.id) - 1, 0)] if q.id in path else path[0]
        answers.pop(back, None)
        await query.edit_message_reply_markup(None)
        return await show_next(update, context)
    if query.data == "d":
        if not data["draft"]:
            await query.answer(UI.notices.pick_one)
            return q.id
        value: Any = list(data["draft"])
    elif query.data == "s":
        value = ""
    else:
        value = query.data[2:]
    await query.answer()
    before = said(answers)
    answers[q.id] = value
    on_path = {x.id for x in FLOW.path(answers)}
    data["answers"] = {k: v for k, v in answers.items() if k in on_path}
    words = CONTENT.words(q, [value] if isinstance(value, str) else value) if value else []
    body = CONTENT.question_body(q, before)
    answered = CONTENT.render(
        "answered.j2", body=body, answer=", ".join(words) or UI.skipped_answer
    )
    await query.edit_message_text(answered)
    return await show_next(update, context)


async def on_summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    data = context.user_data
    await query.edit_message_reply_markup(None)
    if query.data != "ok":
        if query.data and query.data.startswith("c:"):
            data["answers"].pop(query.data[2:], None)
        return await show_next(update, context)
    code = "MPSP-" + secrets.token_hex(4).upper()
    conv = Conversation(
        DONE, FLOW.final_answers(data["answers"]), "run", data["started"], code=code
    )
    # The first message of the result, as this bot sends it (the rest is behind buttons).
    text = CONTENT.render("result.j2", result=ENGINE.result(conv))
    chat = update.effective_chat
    assert chat is not None
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(UI.buttons.new_triage, callback_data="nt")]]
    )
    await chat.send_message(text, reply_markup=markup)
    return FINISHED


async def again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    return await begin(update, context)


def main() -> None:
    warnings.filterwarnings("ignore")  # per_message advice for CallbackQueryHandler
    persistence = PicklePersistence(filepath=os.environ.get("STOCK_PICKLE", "stock_bot.pickle"))
    api = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{api}/bot")
        .persistence(persistence)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .build()
    )
    states: dict[object, list[Any]] = {
        WELCOME: [CallbackQueryHandler(begin, pattern="^go$")],
        SUMMARY: [CallbackQueryHandler(on_summary)],
        FINISHED: [CallbackQueryHandler(again, pattern="^nt$")],
    }
    for q in FLOW.questions:
        states[q.id] = [CallbackQueryHandler(on_question)]
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states=states,
            fallbacks=[CommandHandler("start", start)],
            name="triage",
            persistent=True,
        )
    )
    app.run_polling(allowed_updates=["message", "callback_query"])


if __name__ == "__main__":
    main()
