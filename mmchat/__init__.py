"""mmchat: a local multimodal chat assistant for the terminal.

Subpackages: `engine` (the model runtime), `training` (fitting the fusion layers), `tui` (the
Textual app) and `commands` (the CLI's subcommands, gathered by `cli`). The top-level modules
hold what the front ends share: `config`, `store` and `migrations` (SQLite), `chat` (one turn),
`hooks` (the public plugin API), `plugin_manager` (loading plugins), `personas`, `retrieval`,
`images` and `text`. Imports point one way: tui and commands -> chat -> engine, store and the
plugin API; nothing else imports tui or commands.
"""
