"""Canonical interaction logs and catalogs: load, validate and repair events and items.

Every loader returns the canonical columns (see the README's Data section); bad input raises one
:class:`~interest_tools.errors.DataValidationError` naming the file, row, column and fix.
"""

from __future__ import annotations

from interest_tools.data._catalog import Catalog
from interest_tools.data._load import (
    EVENT_OPTIONAL,
    EVENT_REQUIRED,
    ITEM_OPTIONAL,
    ITEM_REQUIRED,
    UNKNOWN_CATEGORY,
    Dataset,
    LoadReport,
    attach_catalog,
    canonicalize_events,
    check_dataset,
    load_dataset,
    load_events,
    load_items,
    split_categories,
    user_row_ranges,
)
from interest_tools.data._validation import utc_ns

__all__ = [
    "EVENT_OPTIONAL",
    "EVENT_REQUIRED",
    "ITEM_OPTIONAL",
    "ITEM_REQUIRED",
    "UNKNOWN_CATEGORY",
    "Catalog",
    "Dataset",
    "LoadReport",
    "attach_catalog",
    "canonicalize_events",
    "check_dataset",
    "load_dataset",
    "load_events",
    "load_items",
    "split_categories",
    "user_row_ranges",
    "utc_ns",
]
