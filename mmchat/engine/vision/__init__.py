"""Perception: what the engine can tell about a picture before the decoder reads it.

`encoder` turns a picture into ViT-S/14 patch features for the fusion layers. The other modules
turn it into "visual words" (object labels with probabilities, colours, recognised text,
shapes) that the decoder reads as well. It may use mmchat.engine's model assets and
mmchat.images; nothing here knows about the TUI, the store or chat.
"""
