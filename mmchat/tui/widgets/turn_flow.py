"""The open chat's log and draft, and the turn through them: submit, answer, stop, answer again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from mmchat.images import CheckedImage
from mmchat.store import Message as StoredMessage
from mmchat.store import StoreError
from mmchat.text import one_line
from mmchat.tui import compact_chat
from mmchat.tui.app_services import AppServices, services
from mmchat.tui.chat_state import ChatState
from mmchat.tui.notify import fail, warn
from mmchat.tui.runner import AnswerJob
from mmchat.tui.turn_rules import attachment_of, refusal, turn_options
from mmchat.tui.turn_stats import DROPPED
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.draft import Draft
from mmchat.tui.widgets.message_box import MessageBox
from mmchat.tui.widgets.streaming_answer import StreamingAnswer

LEARN_LAST = 40  # stored messages read back after a turn: more than a turn's unsaved boxes


class TurnFlow(Vertical):
    class Changed(Message):
        """A turn started or ended: the status and keys need a refresh (and the list, if set)."""

        def __init__(self, conversations: bool = False) -> None:
            super().__init__()
            self.conversations = conversations

    def __init__(self, state: ChatState, reopen: Callable[[int], Awaitable[None]]) -> None:
        super().__init__(id="turns")
        self.state = state
        self.reopen = reopen  # shows a conversation afresh before it is answered again
        self.answer: StreamingAnswer | None = None
        self.tokens_per_second: float | None = None
        self.prompt_tokens: int | None = None  # the last answer's prompt: the context fill
        self.send_when_ready = False  # Enter was pressed while the model was loading
        self.compacting = False  # the model is summing up earlier messages (compact_chat.py)
        self.summed_up = False  # a summary was saved after the last answer
        # Regenerating moved the chat's path back; an answer that fails before it is saved
        # moves it here again, so the old answer is shown as before.
        self._back_to: int | None = None

    def compose(self) -> ComposeResult:
        yield ChatLog()
        yield Draft()

    @property
    def mm(self) -> AppServices:
        return services(self)

    @property
    def streaming(self) -> bool:
        """The engine is busy with this chat: an answer, or a summary being written."""
        return self.answer is not None or self.compacting

    def can_answer(self, images: Sequence[CheckedImage] = ()) -> bool:
        refused = refusal(self.mm.host, images, self.streaming)
        if refused is not None:
            (fail if refused.severity == "error" else warn)(self, refused.text)
        return refused is None

    @on(Draft.Send)
    async def send_draft(self) -> None:
        """Send the composer's text and attachments; on any refusal the draft stays as it is."""
        draft = self.query_one(Draft)
        text, images = draft.text, draft.images
        if not text and not images:
            return
        if self.mm.host.state == "loading" and not self.streaming:
            self.send_when_ready = True
            name = one_line(self.mm.host.name, 40)
            self.notify(
                f"{name} is still loading; your message is sent when it is ready", markup=False
            )
            return
        if not self.can_answer(images):
            return
        if self._will_overflow(text):
            # Sum up the earlier messages first; the draft waits in the composer meanwhile.
            self.compact(then_send=True)
            return
        try:
            if self.state.ensure_stored(self.mm.store, self.mm.host.name, text, images):
                self.post_message(self.Changed(conversations=True))
        except Exception as exc:
            fail(self, exc)
            return
        assert self.state.conversation_id is not None
        listed = [attachment_of(i) for i in images]
        blobs = {a.sha256: i.data for a, i in zip(listed, images, strict=True)}
        user = MessageBox("user", text, attachments=listed, blobs=blobs)
        await draft.clear()
        await self.start_answer(self._job(self.state.conversation_id, text, images), user)

    @on(Draft.Compact)
    def _compact_command(self, event: Draft.Compact) -> None:
        event.stop()
        self.compact()

    async def model_settled(self) -> None:
        """The model finished loading (or failed): send a draft queued meanwhile."""
        if self.send_when_ready:
            self.send_when_ready = False
            if self.mm.host.ready:
                await self.send_draft()

    def _job(
        self, conv_id: int, text: str | None = None, images: list[CheckedImage] | None = None
    ) -> AnswerJob:
        state, mm = self.state, self.mm
        options = turn_options(mm.settings, state.persona, mm.host.name, state.chat)
        window = mm.host.info.context_window if mm.host.info is not None else None
        return AnswerJob(
            mm.db_path, conv_id, state.persona, options, text, images or [], context_window=window
        )

    async def start_answer(self, job: AnswerJob, *before: MessageBox) -> None:
        engine = self.mm.host.engine
        assert engine is not None
        label, interval = self.state.persona.name, self.mm.stream_interval
        self.answer = StreamingAnswer(job, engine, self.mm.plugins, label=label, interval=interval)
        await self.query_one(ChatLog).add(*before, self.answer)
        self.answer.run()
        self.post_message(self.Changed())

    def stop(self) -> bool:
        """Stop the streaming answer (saved as stopped) or the summary being written; False
        when neither runs."""
        if self.answer is not None:
            self.answer.cancel()
        elif self.compacting and self.mm.host.engine is not None:
            self.mm.host.engine.cancel()
        return self.streaming

    # -- compacting --------------------------------------------------------------------------

    @work(group="compact")  # not exclusive: a second request is refused, never cancels one
    async def compact(self, *, dropped: int = 0, then_send: bool = False) -> None:
        """Have the model sum up the earlier messages into a summary later turns send.
        `dropped`: started by itself, after an answer whose prompt left that many out;
        `then_send`: started by itself before sending a draft that would not fit."""
        done = await self._sum_up(quiet=bool(dropped or then_send), dropped=dropped)
        if then_send and done is not False:
            self.summed_up = True  # the next prompt is measured by the next answer
            await self.send_draft()

    async def _sum_up(self, *, quiet: bool, dropped: int) -> bool | None:
        """True: a summary was saved; None: nothing to sum up; False: failed or stopped."""
        conv_id, host = self.state.conversation_id, self.mm.host
        if conv_id is None:
            warn(self, "Nothing to compact yet: this chat has no messages")
            return None
        if not self.can_answer():
            return False
        assert host.engine is not None and host.info is not None
        try:
            planned = compact_chat.plan(self.mm.store, conv_id, host.info.context_window)
        except Exception as exc:
            fail(self, exc)
            return False
        if planned is None:
            if not quiet:  # by itself: nothing to say when only the last exchange is left
                warn(self, "Nothing to compact yet: the last exchange always stays as it is")
            return None
        count = len(planned.messages)
        self.compacting = True
        self.post_message(self.Changed())
        what = f"summing up {count} earlier messages… (esc stops)"
        if dropped:
            self.notify(f"{dropped} earlier messages no longer fit the model's window: {what}")
        elif quiet:
            self.notify(f"The chat is outgrowing the model's window: {what}")
        else:
            self.notify(what[0].upper() + what[1:])
        try:
            result = await asyncio.to_thread(compact_chat.ask, host.engine, planned.request)
            if result.error:
                fail(self, f"the summary failed: {result.error}")
            elif result.cancelled:
                warn(self, "Compacting stopped; nothing was changed")
            elif not result.text:
                warn(self, "The model wrote an empty summary; nothing was changed")
            else:
                compact_chat.save(self.mm.store, conv_id, planned, result.text, host.name)
                self.compacting = False
                await self.reopen(conv_id)
                self.summed_up = True
                self.notify(
                    f"{count} earlier messages summed up: later turns send the summary "
                    "instead (u on it undoes)"
                )
                return True
        except Exception as exc:
            fail(self, exc)
        finally:
            self.compacting = False
            self.post_message(self.Changed())
        return False

    def _will_overflow(self, text: str) -> bool:
        """Whether the next prompt would likely outgrow the window (auto_compact only): the
        last prompt, the last answer and this draft, at a cautious 3 characters a token."""
        info = self.mm.host.info
        if not self._auto_compact or self.summed_up or info is None or not self.prompt_tokens:
            return False
        last = self.query_one(ChatLog).last("assistant")
        answer = last.message.completion_tokens if last and last.message else None
        room = turn_options(self.mm.settings, self.state.persona, "", self.state.chat).max_tokens
        return compact_chat.would_overflow(
            self.prompt_tokens, answer or 0, text, info.context_window, room
        )

    async def undo_summary(self, summary: StoredMessage) -> None:
        """Send the summed-up messages again: the summary is kept, marked undone."""
        if self.streaming:
            warn(self, "Wait for the answer to end (or press Esc) first")
            return
        try:
            compact_chat.undo(self.mm.store, summary)
        except Exception as exc:
            fail(self, exc)
            return
        await self.reopen(summary.conversation_id)
        self.query_one(Draft).focus_composer()
        self.notify("Summary undone: later turns send the earlier messages again")

    @on(StreamingAnswer.Finished)
    async def _finished(self, event: StreamingAnswer.Finished) -> None:
        event.stop()
        self.answer = None
        back_to, self._back_to = self._back_to, None
        if event.message is None and back_to is not None:
            await self._go_back(back_to)
        self.summed_up = False
        self.tokens_per_second = event.tokens_per_second or self.tokens_per_second
        if event.message is not None and event.message.prompt_tokens:
            self.prompt_tokens = event.message.prompt_tokens
        if event.error:
            fail(self, event.error)
        elif event.message is not None and event.message.status == "failed":
            fail(self, event.message.error or "the answer failed")
        if self.state.conversation_id is not None:
            try:  # boxes mounted before their message was stored learn their ids
                # The newest messages only: a long chat's whole path is slow to read here.
                self.query_one(ChatLog).learn_ids(
                    self.mm.store.messages(self.state.conversation_id, last=LEARN_LAST)
                )
            except Exception as exc:
                fail(self, exc)
        self.mm.report_plugin_problems()
        self.post_message(self.Changed(conversations=True))
        saved = event.message
        if saved is not None and saved.status == "complete" and self._auto_compact:
            if dropped := saved.meta.get(DROPPED):
                self.compact(dropped=dropped)

    @property
    def _auto_compact(self) -> bool:
        """settings.toml's `auto_compact = false` leaves compacting to ctrl+g."""
        return self.mm.settings.extra.get("auto_compact", True) is not False

    async def answer_again(self, conv_id: int, *, back_to: int | None = None) -> None:
        """Show the rewound conversation afresh and answer its last message. `back_to`: where
        the path ended before, shown again should no answer be saved."""
        await self.reopen(conv_id)
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors_with_self:
            # The focused message went with the old boxes: typing goes to the composer again.
            self.query_one(Draft).focus_composer()
        self._back_to = back_to
        await self.start_answer(self._job(conv_id))

    async def _go_back(self, message_id: int) -> None:
        try:
            self.mm.store.continue_from(message_id)
            conv_id = self.mm.store.message(message_id).conversation_id
        except Exception as exc:
            fail(self, exc)
            return
        await self.reopen(conv_id)

    # -- branches ----------------------------------------------------------------------------

    async def switch_branch(self, message: StoredMessage | None, step: int) -> None:
        """Show the previous (-1) or next (+1) branch at this message: the chat goes on from
        there, along the newest messages written on that branch."""
        if self.streaming:
            warn(self, "An answer is streaming: wait for it (or press Esc) to switch branches")
            return
        if message is None:
            return  # not stored yet
        if message.branches < 2:
            self.notify(
                "This message has no other branch: editing it (e) or answering again (r) makes one",
                severity="warning",
            )
            return
        try:
            shown = self.mm.store.switch_branch(message.id, step)
        except StoreError as exc:
            warn(self, str(exc))
            return
        except Exception as exc:
            fail(self, exc)
            return
        await self.reopen(shown.conversation_id)
        # The list again: a search's "on another branch" mark follows the branch now shown.
        self.post_message(self.Changed(conversations=True))
        if not await self.query_one(ChatLog).focus_message(shown.id):
            self.query_one(Draft).focus_composer()
        if shown.status == "failed":
            warn(
                self, f"Branch {shown.branch}/{shown.branches}: this answer failed; r answers again"
            )
