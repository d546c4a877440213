"""The main screen: sidebar, chat log, composer, status line, footer; every action lives here."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from mmchat.chat import TurnOptions
from mmchat.images import CheckedImage
from mmchat.personas import Persona
from mmchat.store import Attachment
from mmchat.store import Message as StoredMessage
from mmchat.text import one_line
from mmchat.tui.events import AnswerChunk, AnswerDone, AnswerNotice, AnswerStats
from mmchat.tui.runner import AnswerJob, TurnRunner
from mmchat.tui.screens.dialogs import EditScreen
from mmchat.tui.screens.picker import Choice, PickerScreen
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.draft import Draft
from mmchat.tui.widgets.message_box import MessageBox
from mmchat.tui.widgets.sidebar import Sidebar
from mmchat.tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from mmchat.tui.app import MMChatApp


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+n", "new_chat", "New"),
        Binding("ctrl+o", "attach", "Attach"),
        Binding("ctrl+t", "pick_persona", "Persona"),
        Binding("ctrl+l", "pick_model", "Model"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+b", "toggle_sidebar", "Chats", show=False),
        Binding("ctrl+f", "search", "Search", show=False),
        Binding("f2", "rename_chat", "Rename", show=False),
        Binding("f8", "delete_chat", "Delete", show=False),
        Binding("f3", "copy_last", "Copy answer", show=False),
        Binding("f4", "edit_last", "Edit last", show=False),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, persona: Persona) -> None:
        super().__init__(id="chat-screen")
        self.default_persona = persona
        self.persona = persona
        self.conversation_id: int | None = None
        self.runner: TurnRunner | None = None
        self.answer_box: MessageBox | None = None
        self.tokens_per_second: float | None = None
        self.send_when_ready = False  # Enter was pressed while the model was loading

    @property
    def mm(self) -> MMChatApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat"):
                yield ChatLog()
                yield Draft()
        yield StatusLine(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.refresh_sidebar()
        await self.show_new_chat()
        self.query_one(Draft).focus_composer()
        self.update_status()

    # -- helpers -----------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.runner is not None

    def fail(self, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
        self.notify(one_line(text), severity="error", markup=False, timeout=8)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None shows the key dimmed in the footer: there is nothing to stop or regenerate yet.
        if action == "stop":
            return True if self.streaming or self.mm.host.state == "loading" else None
        if action == "regenerate":
            return None if self.streaming or self.conversation_id is None else True
        return True

    def update_status(self) -> None:
        self.refresh_bindings()
        host = self.mm.host
        self.query_one(StatusLine).show(
            model=host.name,
            state=host.state,
            info=host.info,
            persona=self.persona.name,
            stage=self.mm.load_stage,
            fraction=self.mm.load_fraction,
            tokens_per_second=self.tokens_per_second,
            error=host.error,
        )

    def refresh_sidebar(self) -> None:
        self.query_one(Sidebar).reload(self.conversation_id)

    def _label(self, message: StoredMessage) -> str:
        return message.persona or self.persona.name

    async def show_new_chat(self) -> None:
        self.conversation_id = None
        greeting = self.persona.render_greeting()
        await self.query_one(ChatLog).show(
            [],
            self.mm.store.blob,
            label=self._label,
            greeting=greeting,
            greeter=self.persona.name,
            empty_hint="" if greeting else "New chat. Type a message below and press Enter.",
        )
        self.query_one(Sidebar).highlight(None)
        self.refresh_bindings()

    async def open_conversation(self, conv_id: int) -> None:
        if self.streaming:
            self.notify("An answer is streaming: press Esc to stop it first", severity="warning")
            return
        store = self.mm.store
        try:
            conv = store.conversation(conv_id)
            messages = store.messages(conv_id)
        except Exception as exc:
            self.fail(exc)
            return
        self.conversation_id = conv_id
        self.persona = self._persona_named(conv.persona)
        await self.query_one(ChatLog).show(messages, store.blob, label=self._label)
        self.query_one(Sidebar).highlight(conv_id)
        self.update_status()

    def _persona_named(self, name: str | None) -> Persona:
        try:
            return self.mm.personas.get(name)
        except Exception:
            self.notify(
                f"persona {one_line(name or '', 40)!r} is not installed; using "
                f"{self.default_persona.name}",
                severity="warning",
                markup=False,
            )
            return self.default_persona

    # -- sending -----------------------------------------------------------------------------

    @on(Draft.Send)
    async def _send(self, event: Draft.Send) -> None:
        await self.send_draft()

    async def send_draft(self) -> None:
        """Send the composer's text and attachments; on any refusal the draft stays as it is."""
        draft = self.query_one(Draft)
        text, images = draft.text, draft.images
        if not text and not images:
            return
        if self.mm.host.state == "loading" and not self.streaming:
            self.send_when_ready = True
            self.notify(
                f"{one_line(self.mm.host.name, 40)} is still loading; your message is sent "
                "when it is ready",
                markup=False,
            )
            return
        if not self._can_answer(images):
            return
        try:
            conv_id = self._ensure_conversation(text, images)
        except Exception as exc:
            self.fail(exc)
            return
        user = MessageBox(
            "user",
            text,
            attachments=[_attachment(i) for i in images],
            blobs={_attachment(i).sha256: i.data for i in images},
        )
        await draft.clear()
        job = AnswerJob(self.mm.db_path, conv_id, self.persona, self._options(), text, list(images))
        await self._start_answer(job, user)

    async def model_settled(self) -> None:
        """The model finished loading (or failed): send a draft queued meanwhile."""
        self.update_status()
        if self.send_when_ready:
            self.send_when_ready = False
            if self.mm.host.ready:
                await self.send_draft()

    def _can_answer(self, images: list[CheckedImage]) -> bool:
        host = self.mm.host
        if self.streaming:
            self.notify("Wait for the answer, or press Esc to stop it", severity="warning")
            return False
        if host.state == "loading":
            self.notify(
                f"{one_line(host.name, 40)} is still loading…", severity="warning", markup=False
            )
            return False
        if not host.ready:
            self.fail(f"no model is loaded ({host.error or 'none chosen'}); pick one with ctrl+l")
            return False
        if images and host.info is not None and not host.info.vision:
            self.fail(
                f"{host.name} is text-only and cannot read images: remove the attachment "
                "or pick a vision model (ctrl+l)"
            )
            return False
        return True

    def _ensure_conversation(self, text: str, images: list[CheckedImage]) -> int:
        if self.conversation_id is None:
            # Titled now (as the store would title it) so the sidebar lists it at once.
            title = one_line(text, 60) or (images[0].name if images else "")
            conv = self.mm.store.create_conversation(
                title=title, model=self.mm.host.name, persona=self.persona.name
            )
            self.conversation_id = conv.id
            self.refresh_sidebar()
        return self.conversation_id

    def _options(self) -> TurnOptions:
        settings = self.mm.settings
        persona = self.persona
        return TurnOptions(
            model=self.mm.host.name,
            max_tokens=persona.max_tokens or settings.max_tokens,
            temperature=(
                persona.temperature if persona.temperature is not None else settings.temperature
            ),
            system=settings.system,
        )

    async def _start_answer(self, job: AnswerJob, *before: MessageBox) -> None:
        engine = self.mm.host.engine
        assert engine is not None
        self.answer_box = MessageBox("assistant", label=self.persona.name)
        log = self.query_one(ChatLog)
        await log.add(*before, self.answer_box)
        self.answer_box.start_stream()
        self.runner = TurnRunner(
            engine, self.mm.plugins, self.post_message, interval=self.mm.stream_interval
        )
        self.run_worker(
            partial(self.runner.run, job),
            name="answer",
            group="answer",
            exclusive=True,
            thread=True,
            exit_on_error=False,
            description=f"answer in conversation {job.conversation_id}",
        )
        self.refresh_bindings()

    @on(AnswerChunk)
    async def _chunk(self, event: AnswerChunk) -> None:
        if self.answer_box is None:
            return
        log = self.query_one(ChatLog)
        follow = log.near_bottom
        await self.answer_box.append(event.text)
        log.follow(follow)

    @on(AnswerStats)
    def _stats(self, event: AnswerStats) -> None:
        if event.tokens_per_second:
            self.tokens_per_second = event.tokens_per_second
            self.update_status()

    @on(AnswerNotice)
    def _notice(self, event: AnswerNotice) -> None:
        self.notify(one_line(event.text), severity="warning", markup=False)

    @on(AnswerDone)
    async def _done(self, event: AnswerDone) -> None:
        box, self.answer_box, self.runner = self.answer_box, None, None
        log = self.query_one(ChatLog)
        follow = log.near_bottom
        if box is not None:
            await box.finish(event.message)
        log.follow(follow)
        if event.error:
            self.fail(event.error)
        elif event.message is not None and event.message.status == "failed":
            self.fail(event.message.error or "the answer failed")
        self._attach_ids()
        self.mm.report_plugin_problems()
        self.refresh_sidebar()
        self.refresh_bindings()

    def _attach_ids(self) -> None:
        """Boxes mounted before their message was stored learn their ids (for edit/regenerate)."""
        if self.conversation_id is None:
            return
        try:
            messages = [
                m for m in self.mm.store.messages(self.conversation_id) if m.role != "system"
            ]
        except Exception as exc:
            self.fail(exc)
            return
        boxes = self.query_one(ChatLog).boxes
        # Older messages may not be mounted: match from the newest end.
        for box, message in zip(reversed(boxes), reversed(messages), strict=False):
            if box.message is None and box.role == message.role:
                box.message = message

    def action_attach(self) -> None:
        self.query_one(Draft).pick_file()

    # -- message actions ---------------------------------------------------------------------

    @on(MessageBox.Action)
    async def _message_action(self, event: MessageBox.Action) -> None:
        if event.action == "copy":
            self.app.copy_to_clipboard(event.box.text)
            self.notify("Copied to the clipboard")
        elif event.action == "edit":
            self.edit_message(event.box)
        elif event.action == "regenerate":
            await self.action_regenerate()

    def action_stop(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
        elif self.mm.host.state == "loading":
            self.mm.cancel_load()

    async def action_regenerate(self) -> None:
        if self.conversation_id is None or self.streaming:
            return
        if not self._can_answer([]):
            return
        store = self.mm.store
        try:
            messages = store.messages(self.conversation_id)
            last = next((m for m in reversed(messages) if m.role == "assistant"), None)
            if last is None:
                self.notify("There is no answer to regenerate yet", severity="warning")
                return
            store.delete_messages_from(last.id)
        except Exception as exc:
            self.fail(exc)
            return
        await self._reload_and_answer()

    async def _reload_and_answer(self) -> None:
        assert self.conversation_id is not None
        conv_id = self.conversation_id
        await self.open_conversation(conv_id)
        await self._start_answer(AnswerJob(self.mm.db_path, conv_id, self.persona, self._options()))

    @work(group="dialogs")
    async def edit_message(self, box: MessageBox) -> None:
        if box.message is None or box.role != "user" or self.streaming:
            return
        text = await self.app.push_screen_wait(EditScreen(box.message.content))
        if text is None or not text.strip() or not self._can_answer([]):
            return
        store = self.mm.store
        try:
            store.edit_message(box.message.id, text.strip())
            later = [
                m for m in store.messages(box.message.conversation_id) if m.id > box.message.id
            ]
            if later:
                store.delete_messages_from(later[0].id)
        except Exception as exc:
            self.fail(exc)
            return
        await self._reload_and_answer()

    def action_copy_last(self) -> None:
        boxes = [b for b in self.query_one(ChatLog).boxes if b.role == "assistant"]
        if boxes:
            boxes[-1].action_copy()

    def action_edit_last(self) -> None:
        boxes = [b for b in self.query_one(ChatLog).boxes if b.role == "user"]
        if boxes:
            self.edit_message(boxes[-1])

    # -- conversations -----------------------------------------------------------------------

    @on(Sidebar.Selected)
    async def _selected(self, event: Sidebar.Selected) -> None:
        await self.open_conversation(event.conversation_id)

    async def action_new_chat(self) -> None:
        if self.streaming:
            self.notify("An answer is streaming: press Esc to stop it first", severity="warning")
            return
        self.persona = self.default_persona if self.conversation_id else self.persona
        await self.show_new_chat()
        self.update_status()
        self.query_one(Draft).focus_composer()

    def action_search(self) -> None:
        self.query_one("#sidebar").display = True
        self.query_one("#search").focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display

    def _target_conversation(self) -> int | None:
        sidebar = self.query_one(Sidebar)
        if sidebar.options.has_focus and sidebar.highlighted_id is not None:
            return sidebar.highlighted_id
        return self.conversation_id

    def action_rename_chat(self) -> None:
        conv_id = self._target_conversation()
        if conv_id is None:
            self.notify("Open a chat to rename it", severity="warning")
            return
        self.query_one(Sidebar).rename(conv_id)

    def action_delete_chat(self) -> None:
        conv_id = self._target_conversation()
        if conv_id is None:
            self.notify("Open a chat to delete it", severity="warning")
        elif self.streaming and conv_id == self.conversation_id:
            self.notify("An answer is streaming: press Esc to stop it first", severity="warning")
        else:
            self.query_one(Sidebar).delete(conv_id)

    @on(Sidebar.Deleted)
    async def _deleted(self, event: Sidebar.Deleted) -> None:
        if event.conversation_id == self.conversation_id:
            await self.show_new_chat()
            self.update_status()

    # -- persona and model -------------------------------------------------------------------

    @work(group="dialogs")
    async def action_pick_persona(self) -> None:
        choices = [
            Choice(p.name, p.name, p.fill(p.description))
            for p in self.mm.personas.personas.values()
        ]
        name = await self.app.push_screen_wait(
            PickerScreen("Persona", choices, current=self.persona.name)
        )
        if name is not None:
            await self.set_persona(name)

    async def set_persona(self, name: str) -> None:
        try:
            persona = self.mm.personas.get(name)
            if self.conversation_id is not None:
                self.mm.store.update_conversation(self.conversation_id, persona=persona.name)
        except Exception as exc:
            self.fail(exc)
            return
        self.persona = persona
        if self.conversation_id is None:
            self.default_persona = persona
            await self.show_new_chat()
        self.update_status()
        note = f"Persona: {one_line(persona.name, 40)}"
        if persona.model and persona.model != self.mm.host.name:
            # Loading another model takes a while: say so rather than start it unasked.
            note += f" (it suggests model {one_line(persona.model, 40)}; ctrl+l switches)"
        self.notify(note, markup=False)

    @work(group="dialogs")
    async def action_pick_model(self) -> None:
        if self.streaming:
            self.notify("An answer is streaming: press Esc to stop it first", severity="warning")
            return
        name = await self.app.push_screen_wait(
            PickerScreen(
                "Model",
                self.mm.model_choices(),
                current=self.mm.host.name,
                accept_typed="Filter, or type a folder, .gguf path, hub id or plugin:name; Enter",
            )
        )
        if name:
            self.mm.load_model(name)


def _attachment(image: CheckedImage) -> Attachment:
    import hashlib

    sha = hashlib.sha256(image.data).hexdigest()
    return Attachment(sha, image.name, image.mime, image.width, image.height)
