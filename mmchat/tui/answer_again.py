"""Answering again from an earlier point: regenerate an answer, or edit a message and resend.

Nothing is deleted: the new answer (or the edited message) starts a branch beside the old one,
which stays in the store with everything that followed it ([ and ] on the message step between
them). The conversation is shown afresh along the new branch and answered by the turn flow.
"""

from __future__ import annotations

from mmchat.store import Message as StoredMessage
from mmchat.tui.notify import fail, warn
from mmchat.tui.screens.dialogs import EditScreen
from mmchat.tui.widgets.message_box import MessageBox
from mmchat.tui.widgets.turn_flow import TurnFlow


async def regenerate(flow: TurnFlow, answer: StoredMessage | None = None) -> None:
    """Answer again the question of `answer` (None: of the last answer); the old answer and
    what followed it stay as a branch."""
    conv_id = flow.state.conversation_id
    if conv_id is None or flow.streaming or not flow.can_answer():
        return
    store = flow.mm.store
    try:
        path = store.messages(conv_id)
        if answer is None and path and path[-1].role == "user":
            unanswered = True  # its answer was never saved (the model failed to start)
        else:
            unanswered = False
            answer = answer or next((m for m in reversed(path) if m.role == "assistant"), None)
            if answer is None:
                flow.notify("There is no answer to regenerate yet", severity="warning")
                return
            question = store.message(answer.parent_id) if answer.parent_id is not None else None
            if question is None or question.role != "user":
                warn(flow, "This answer follows no message of yours; there is nothing to ask again")
                return
            store.continue_from(question.id)
    except Exception as exc:
        fail(flow, exc)
        return
    if unanswered:
        await flow.answer_again(conv_id)
    else:  # should the answer fail before it is saved, the path goes back to where it was
        await flow.answer_again(conv_id, back_to=path[-1].id)


async def edit_and_resend(flow: TurnFlow, box: MessageBox) -> None:
    """Ask for the new text of a user message (run it in a worker: it waits on a dialog)."""
    if box.message is None or box.role != "user" or flow.streaming:
        return
    text = await flow.app.push_screen_wait(EditScreen(box.message.content))
    if text is None or not text.strip() or not flow.can_answer():
        return
    try:
        edited = flow.mm.store.edit_as_branch(box.message.id, text.strip())
    except Exception as exc:
        fail(flow, exc)
        return
    await flow.answer_again(edited.conversation_id)
