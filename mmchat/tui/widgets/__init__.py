"""Widgets of the chat screen; each owns its state and reports by posting messages."""
