"""The Textual TUI: `mmchat` with no subcommand. Nothing here imports torch.

launch.py opens the session and runs app.py's MMChatApp, which owns the session and the model
(model_loading.py loads it in the engine process). screens/ holds the chat screen (its keys and
status line) and the modal dialogs; widgets/ the parts that own their state and post messages:
OpenChat (which conversation and persona), TurnFlow (submit, answer, stop), StreamingAnswer,
Draft (attachments), Sidebar. Widget-free helpers sit beside them (turn_rules, answer_again,
chat_state, model_choices). Widgets reach the app only through app_services.AppServices.

This package may import mmchat.chat, mmchat.engine (types, registry), mmchat.store and
mmchat.hooks; none of them imports it.
"""
