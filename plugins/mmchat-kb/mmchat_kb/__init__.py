"""mmchat-kb: knowledge bases that personas answer from, with citations.

It imports only mmchat's public plugin API (mmchat.hooks) from mmchat.

Importing this package is cheap on purpose: mmchat loads the plugin on every start, so numpy,
sentence-transformers, pypdf and python-docx are imported only where they are used.
"""

__version__ = "0.1.0"
