"""Training the fusion layers on this machine: data, stages, and the recipe that runs them.

- data: `easy_vqa` (the data set and the prompts the engine would build for it), `shapes` and
  `text_pictures` (pictures drawn with their truth), `relevance_data` (labelled messages);
- `frozen`: what the frozen decoder and encoder compute once, shared by the stages;
- stages: `cross_attention`, `top_layer`, `relevance` (each a trainer of `recipe.Trainer`'s shape);
- `recipe`: SHIPPED_RECIPE, the shipped weights' recipe as data, and the runner behind
  `mmchat train-fusion` (its command line is mmchat/commands/train.py).

Nothing here runs when mmchat chats: the engine only reads what these produce. It may use
mmchat.engine and mmchat.config; it imports nothing from tui, chat, store or the plugin API,
and torch loads only when a stage runs.
"""
