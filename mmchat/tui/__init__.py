"""The Textual TUI: `mmchat` with no subcommand (app.py, screens/, widgets/).

It may use chat, session, store, personas, config, images, text, the plugin API and the
engine's protocol and client side (mmchat.engine.base, and the process the model runs in);
nothing here imports torch. Only mmchat.cli imports this package.
"""
