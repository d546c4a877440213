"""The model runtime: engines that turn a request into streamed events, the process the model
runs in, mmchat's own fusion model, and perception (`vision`).

It may use mmchat.config, mmchat.images, mmchat.text and the plugin API (mmchat.hooks); it
imports nothing from tui, commands, chat, store or session, and never textual. Importing the
package loads no torch: the modules that run a model import it themselves.
"""
