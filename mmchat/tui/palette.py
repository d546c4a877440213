"""The chat screen's entries in the command palette (ctrl+p), each naming its key."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand

from mmchat.tui.screens.chat import ChatScreen


def chat_commands(screen: ChatScreen) -> Iterable[SystemCommand]:
    commands = [
        ("New chat", "Start a new conversation (ctrl+n)", screen.action_new_chat),
        ("Attach image", "Attach an image file to the next message (ctrl+o)", screen.action_attach),
        ("Switch persona", "Choose the persona for this chat (ctrl+t)", screen.action_pick_persona),
        ("Switch model", "Load another model (ctrl+l)", screen.action_pick_model),
        (
            "Chat settings",
            "Model, system prompt, temperature, top-p, max tokens of this chat (f5)",
            screen.action_chat_settings,
        ),
        ("Regenerate answer", "Answer the last message again (ctrl+r)", screen.action_regenerate),
        ("Stop", "Stop the answer or the model load (esc)", screen.action_stop),
        ("Copy last answer", "Copy the last answer to the clipboard (f3)", screen.action_copy_last),
        (
            "Previous branch",
            "Show the previous version of the focused message (else the newest one that has "
            "another) and what followed it ([ on a message)",
            lambda: screen.run_action("branch(-1)"),
        ),
        (
            "Next branch",
            "Show the next version of the focused message (else the newest one that has "
            "another) and what followed it (] on a message)",
            lambda: screen.run_action("branch(1)"),
        ),
        ("Edit last message", "Edit and resend your last message (f4)", screen.action_edit_last),
        ("Rename chat", "Rename the current chat (f2)", screen.action_rename_chat),
        (
            "Export chat",
            "Save this chat as Markdown, JSON or HTML, by the file's extension (ctrl+s)",
            screen.action_export_chat,
        ),
        ("Delete chat", "Delete the current chat (f8)", screen.action_delete_chat),
        ("Search chats", "Search titles and messages (ctrl+f)", screen.action_search),
        ("Toggle chat list", "Show or hide the sidebar (ctrl+b)", screen.action_toggle_sidebar),
        (
            "Compact chat",
            "Have the model sum up the earlier messages; later turns send the summary "
            "(ctrl+g or /compact; u on the summary undoes)",
            screen.action_compact,
        ),
        (
            "Toggle answer figures",
            "Show or hide first-token time, tok/s, engine memory under answers (f9)",
            screen.action_toggle_perf,
        ),
    ]
    for title, help_text, callback in commands:
        yield SystemCommand(title, help_text, callback)
