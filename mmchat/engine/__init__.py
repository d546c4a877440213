"""The model runtime: engines that turn a request into streamed events, the process the model
runs in, mmchat's own fusion model, and perception (`vision`).

It may use mmchat.config, mmchat.images, mmchat.text, the plugin API (mmchat.hooks) and, to
load a plugin's model backend in the engine process, mmchat.plugin_manager; it imports nothing
from tui, commands, chat, store or session, and never textual. Importing the
package loads no torch: the modules that run a model import it themselves.
"""
