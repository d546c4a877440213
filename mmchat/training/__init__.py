"""Training data and stages: picture generators, question sets, and the steps that fit layers.

Nothing here runs when mmchat chats; the engine only reads what these produce.
"""
