"""The Textual TUI: `mmchat` with no subcommand. Nothing here imports torch."""
