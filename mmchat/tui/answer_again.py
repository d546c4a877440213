"""Answering again from an earlier point: regenerate the last answer, or edit a message and resend.

The conversation is rewound in the store first (what follows is deleted), then shown afresh and
answered by the turn flow.
"""

from __future__ import annotations

from mmchat.store import Message as StoredMessage
from mmchat.store import Store
from mmchat.tui.notify import fail
from mmchat.tui.screens.dialogs import EditScreen
from mmchat.tui.widgets.message_box import MessageBox
from mmchat.tui.widgets.turn_flow import TurnFlow


async def regenerate(flow: TurnFlow) -> None:
    conv_id = flow.state.conversation_id
    if conv_id is None or flow.streaming or not flow.can_answer():
        return
    try:
        dropped = drop_last_answer(flow.mm.store, conv_id)
    except Exception as exc:
        fail(flow, exc)
        return
    if not dropped:
        flow.notify("There is no answer to regenerate yet", severity="warning")
        return
    await flow.answer_again(conv_id)


async def edit_and_resend(flow: TurnFlow, box: MessageBox) -> None:
    """Ask for the new text of a user message (run it in a worker: it waits on a dialog)."""
    if box.message is None or box.role != "user" or flow.streaming:
        return
    text = await flow.app.push_screen_wait(EditScreen(box.message.content))
    if text is None or not text.strip() or not flow.can_answer():
        return
    try:
        edit_and_drop_later(flow.mm.store, box.message, text.strip())
    except Exception as exc:
        fail(flow, exc)
        return
    await flow.answer_again(box.message.conversation_id)


def drop_last_answer(store: Store, conversation_id: int) -> bool:
    """Delete the last answer and what follows it; False when there is no answer yet."""
    messages = store.messages(conversation_id)
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if last is None:
        return False
    store.delete_messages_from(last.id)
    return True


def edit_and_drop_later(store: Store, message: StoredMessage, text: str) -> None:
    """Replace a user message's text and delete every message after it."""
    store.edit_message(message.id, text)
    later = [m for m in store.messages(message.conversation_id) if m.id > message.id]
    if later:
        store.delete_messages_from(later[0].id)
