"""dedupe: clean scraped news of boilerplate and repeats, and tell who copied whom.

The public API is what this module exports; everything else may change.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dedupe.fingerprint import Params
from dedupe.model import (
    Article,
    DedupeError,
    Finding,
    InputError,
    Match,
    Removal,
    Result,
    StoreError,
)
from dedupe.provenance import (
    Carrier,
    Chain,
    Flow,
    Link,
    OutletNode,
    Passage,
    Provenance,
    ReuseGraph,
)
from dedupe.tracker import Summary, Tracker

try:
    __version__ = version("news-dedupe")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Article",
    "Carrier",
    "Chain",
    "DedupeError",
    "Finding",
    "Flow",
    "InputError",
    "Link",
    "Match",
    "OutletNode",
    "Params",
    "Passage",
    "Provenance",
    "Removal",
    "Result",
    "ReuseGraph",
    "StoreError",
    "Summary",
    "Tracker",
    "__version__",
]
