"""dedupe-releases: find near-duplicate press releases, news stories and speeches in text dumps.

The library is usable without the command line::

    from dedupe_releases import scan, Config
    result = scan(["samples/dump"], Config())
"""

from __future__ import annotations

import logging

__version__ = "0.3.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from dedupe_releases.config import Config  # noqa: E402  (after __version__: config reads it)
from dedupe_releases.pipeline import scan  # noqa: E402

__all__ = ["Config", "__version__", "scan"]
