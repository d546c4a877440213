"""One message in the chat view: a header line, attachments, a Markdown body, and the sources
an answer cites (knowledge-base passages), one line each.

A saved message's body is folded (one widget, folded_body.py) until an action needs its parts;
an answer being written streams into Textual's Markdown widget. Model output is untrusted:
control characters are stripped before it reaches either, links are never opened
(open_links=False; folded, a link is its text and address); the header is built from Content,
never markup.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from mmchat.chat import finish_note
from mmchat.compaction import summary_count
from mmchat.store import Attachment
from mmchat.store import Message as StoredMessage
from mmchat.text import citation_line, one_line, strip_control
from mmchat.tools.output import transcript_lines
from mmchat.tui.clipboard import copy_text
from mmchat.tui.turn_stats import dropped_note, perf_line
from mmchat.tui.widgets.attachments import AttachmentRow
from mmchat.tui.widgets.folded_body import FoldedBody

STATUS_STYLE = {"stopped": "$warning", "failed": "$error", "streaming": "$accent"}
# A box's parts, top to bottom (the dim ones exist only once they have something to show).
LINES = (
    "message-header",
    "attachment-row",
    "message-tools",
    "message-body",
    "message-sources",
    "message-dropped",
    "message-perf",
)


class MessageBox(Vertical, can_focus=True):
    """A chat message; focus it to copy, edit (yours), regenerate (an answer) or step between
    its branches (the versions that editing and regenerating leave)."""

    BINDINGS = [
        Binding("c", "copy", "Copy"),
        Binding("b", "copy_block", "Copy code"),
        Binding("e", "edit", "Edit"),
        Binding("r", "regenerate", "Regenerate"),
        Binding("s", "sources", "Sources"),
        Binding("u", "undo_summary", "Undo summary"),
        # Where a message has branches its header says so ("branch 2/3 [ ]").
        Binding("left_square_bracket,left", "branch(-1)", "Previous branch", show=False),
        Binding("right_square_bracket,right", "branch(1)", "Next branch", show=False),
        # A focused message is a place in a list: the arrows move along it (PageUp/PageDown
        # scroll the log, Esc stops an answer as anywhere else).
        Binding("up,k", "screen.focus_message('prev')", "Previous", show=False),
        Binding("down,j", "screen.focus_message('next')", "Next", show=False),
        Binding("home", "screen.focus_message('first')", "First", show=False),
        Binding("end", "screen.focus_message('last')", "Last", show=False),
    ]

    class Action(Message):
        """Asks the screen to act on this message (edit / regenerate / sources / branch)."""

        def __init__(self, box: MessageBox, action: str, step: int = 0) -> None:
            super().__init__()
            self.box = box
            self.action = action
            self.step = step  # "branch": -1 the previous one, 1 the next

    def __init__(
        self,
        role: str,
        content: str = "",
        *,
        message: StoredMessage | None = None,
        label: str = "",
        attachments: list[Attachment] | None = None,
        blobs: dict[str, bytes] | None = None,
        summarised: bool = False,
        folded: bool = False,
    ) -> None:
        super().__init__(classes=f"message {role}")
        self.folded = folded  # the body drawn as one widget until its parts are needed
        self.summarised = summarised  # a summary is sent in its place (compaction.py)
        self.role = role
        self.message = message
        self.label = label
        self.text = strip_control(content)
        self.attachments = attachments or []
        self.blobs = blobs or {}
        self._stream: MarkdownStream | None = None
        self._block = -1  # the code block `b` copied last
        # The answer's tool calls and results, shown dim above it.
        self._tool_lines = transcript_lines(message.meta) if message else []

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="message-header")
        if self.attachments:
            yield AttachmentRow(self.attachments, self.blobs)
        # The dim lines are built only where they have something to say: a long chat lays out
        # every widget of its mounted boxes whenever one is mounted. Built here, not mounted
        # on Mount: a box removed mid-compose (a log re-rendered under load) is still sent
        # Mount, with its children gone.
        if self._tool_lines:
            yield Static(self._tools_text(), classes="message-tools")
        if self.folded:
            yield FoldedBody(self.text, classes="message-body")
        else:
            yield Markdown(self.text, open_links=False, classes="message-body")
        for name, content in self._under_body():
            if content:
                yield Static(content, classes=name)

    def _under_body(self) -> list[tuple[str, Content]]:
        """The lines under the body: an answer's sources, then the dim lines under a saved
        answer (earlier messages left out, and its figures)."""
        meta = self.message.meta if self.message is not None else {}
        return [
            ("message-sources", self._sources()),
            ("message-dropped", Content(dropped_note(meta))),
            ("message-perf", Content(perf_line(meta))),
        ]

    def _set_line(self, name: str, content: Content) -> None:
        """Show `content` on the line `name` (in LINES' order), built when first needed; an
        empty one is hidden."""
        found = self.query_children(f".{name}")
        if found:
            line = found.first(Static)
            line.update(content)
            line.set_class(not content, "empty")
        elif content:
            later = LINES[LINES.index(name) + 1 :]
            after = [c for c in self.children if any(c.has_class(n) for n in later)]
            line = Static(content, classes=name)
            if after:
                self.mount(line, before=after[0])
            else:
                self.mount(line)

    @property
    def body(self) -> Markdown:
        """The Markdown widget of an unfolded box (see `unfold`)."""
        return self.query_one(".message-body", Markdown)

    async def unfold(self) -> None:
        """Swap the folded body for Textual's Markdown widget, whose parts (code blocks) the
        box's actions use."""
        if not self.folded:
            return
        self.folded = False
        folded = self.query_one(".message-body", FoldedBody)
        body = Markdown(self.text, open_links=False, classes="message-body")
        await self.mount(body, after=folded)
        await folded.remove()

    @property
    def status(self) -> str:
        return self.message.status if self.message else "streaming"

    def _header(self) -> Content:
        header = self._header_text()
        if self.message is not None and self.message.branches > 1:
            where = f"branch {self.message.branch}/{self.message.branches}"
            header = Content.assemble(
                header, "  ", Content.styled(where, "$accent"), Content.styled("  [ ]", "dim")
            )
        return header

    def _header_text(self) -> Content:
        if self.role == "system":  # only summaries are shown (ChatLog)
            count = summary_count(self.message) if self.message else 0
            return Content.assemble(
                Content.styled("Summary", "bold"),
                Content.styled(f" of {count} earlier messages", "dim"),
                # An older summary is summed up in turn by the newest, which alone is sent.
                Content.styled(
                    "  summed up below" if self.summarised else ", sent in their place  (u undoes)",
                    "dim",
                ),
            )
        who = "You" if self.role == "user" else (self.label or "assistant")
        parts: list[Content | str] = [Content.styled(one_line(who, 60), "bold")]
        if self.summarised:
            parts += ["  ", Content.styled("summed up below", "dim")]
        if self.message is None and self.role == "assistant" and self._stream is not None:
            parts += ["  ", Content.styled("answering… (esc stops)", "$accent")]
        elif self.message is not None and self.message.status in ("stopped", "failed"):
            note = self.message.status
            if self.message.error:
                note += f": {one_line(self.message.error, 200)}"
            parts += ["  ", Content.styled(note, STATUS_STYLE[self.message.status])]
        elif self.message is not None and (ended := finish_note(self.message)):
            parts += ["  ", Content.styled(ended, "$warning")]
        elif self.message is not None and self.role == "assistant" and not self.text.strip():
            parts += [
                "  ",
                Content.styled("(the model gave an empty answer; ctrl+r retries)", "dim"),
            ]
        return Content.assemble(*parts)

    def action_sources(self) -> None:
        self.post_message(self.Action(self, "sources"))

    def _citations(self) -> list[dict[str, Any]]:
        return self.message.meta.get("citations", []) if self.message else []

    def _sources(self) -> Content:
        """The cited sources (Content, never markup: titles and paths are the documents')."""
        cites = self._citations()
        lines = [Content.styled("Sources", "bold")] if cites else []
        lines += [Content(citation_line(cite)) for cite in cites]
        return Content("\n").join(lines)

    def _tools_text(self) -> Content:
        return Content.styled("\n".join(self._tool_lines), "dim")

    def add_tool_line(self, line: str) -> None:
        self._tool_lines.append(line)
        self._show_tools()

    def _show_tools(self) -> None:
        self._set_line("message-tools", self._tools_text())  # empty without tool lines

    def refresh_header(self) -> None:
        self.query_one(".message-header", Static).update(self._header())

    # -- streaming ---------------------------------------------------------------------------

    def start_stream(self) -> None:
        self._stream = Markdown.get_stream(self.body)
        self.refresh_header()

    async def append(self, text: str) -> None:
        text = strip_control(text)
        self.text += text
        if self._stream is not None:
            await self._stream.write(text)

    async def finish(self, message: StoredMessage | None) -> None:
        """End the stream; one full update re-parses what half-parsed fences broke."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if message is not None:
            self.message = message
            self.text = strip_control(message.content)
        await self.unfold()
        await self.body.update(self.text)
        self.refresh_header()
        if message is not None:
            self._tool_lines = transcript_lines(message.meta) or self._tool_lines
            self._show_tools()
        for name, content in self._under_body():  # the saved message's citations and figures
            self._set_line(name, content)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        """Links are never opened for the person; the address is shown and copied instead."""
        event.stop()
        href = one_line(event.href, 200)
        copy_text(self, href, f"the link (not opened): {href}")

    # -- actions -----------------------------------------------------------------------------

    def action_copy(self) -> None:
        copy_text(self, self.text, "the message")

    async def action_copy_block(self) -> None:
        """Copy the next fenced code block (the first again after the last), marking it."""
        await self.unfold()
        blocks = list(self.body.query(MarkdownFence))
        if not blocks:
            self.notify("This message has no code block; c copies all of it")
            return
        self._block = (self._block + 1) % len(blocks)
        block = blocks[self._block]
        for other in blocks:
            other.set_class(other is block, "copied")
        block.scroll_visible(animate=False)
        language = f" ({one_line(block.lexer, 20)})" if block.lexer else ""
        what = f"code block {self._block + 1} of {len(blocks)}{language}"
        copy_text(self, block.code, what)

    def action_undo_summary(self) -> None:
        self.post_message(self.Action(self, "undo_summary"))

    def action_edit(self) -> None:
        self.post_message(self.Action(self, "edit"))

    def action_regenerate(self) -> None:
        self.post_message(self.Action(self, "regenerate"))

    def action_branch(self, step: int) -> None:
        self.post_message(self.Action(self, "branch", step))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit":
            return self.role == "user"
        if action == "regenerate":
            return self.role == "assistant"
        if action == "undo_summary":
            return self.role == "system" and not self.summarised
        return True
