"""`python -m mmchat`: the same as the `mmchat` command."""

from mmchat.cli import main

main()
