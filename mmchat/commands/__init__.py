"""The CLI's subcommands, one module each; mmchat.cli gathers them into the typer app.

A command may use anything below the front ends (chat, session, store, engine, training, the
plugin API); it imports nothing from tui, and loads torch only inside the command that needs it.
"""
