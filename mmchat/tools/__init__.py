"""Tools the model may call during a turn: MCP servers' and plugins' (`register_tools`).

settings.py reads the `[mcp.NAME]` tables, mcp_client.py talks to one MCP server, calls.py
finds the model's tool calls in its text, output.py makes a tool's result safe to show and send,
and toolbox.py puts them together: the tools a persona may use, run with the person's consent.
"""
