"""The summary wording a store was built with, recorded in ``state.json`` and reused by every ingest.

Ingest re-summarises the windows of the users it touches. It must write them the way the build did: with
another noun ("items" where the build said "movies") every window text of those users changes, so every one is
embedded again and the user's history reads differently from everyone else's (issue 15).

The rule, in order:

1. the :class:`~interest_tools.summaries.SummaryConfig` the build recorded (``BuildState.summary``);
2. stores built before it was recorded: the noun read back from their own template summaries (the first
   sentence is "<period> you rated|interacted with N <noun>, ..."), the plural from a window with N != 1 and the
   singular from one with N == 1;
3. no template summary to read (LLM summaries only): the noun of the dataset (:func:`noun_for_dataset`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pandas as pd

from interest_tools.store import state
from interest_tools.summaries import SummaryConfig

#: Fields of a SummaryConfig that say where or how the build ran, not how summaries read (not recorded).
_NOT_WORDING = {"cache_dir", "show_progress"}
_COUNT = re.compile(r"^.*? you (?:rated|interacted with) ([\d,]+) (.+?)(?:, all |, mostly |\.(?:\s|$))")


def noun_for_dataset(name: str) -> str:
    """The plural noun of a dataset's items: ``movies`` for MovieLens, ``items`` otherwise."""
    return "movies" if name.startswith("movielens") else "items"


def recorded_summary(config: SummaryConfig) -> dict[str, Any]:
    """What ``state.json`` records of a summary config (its wording and limits; not the cache folder)."""
    return config.model_dump(mode="json", exclude=_NOT_WORDING)


def _nouns_in(summaries: pd.DataFrame) -> tuple[str | None, str | None]:
    """The (plural, singular) noun most template summaries use; None where none shows it."""
    plural: Counter[str] = Counter()
    singular: Counter[str] = Counter()
    rows = summaries if "source" not in summaries else summaries[summaries["source"] == "template"]
    for text in rows.get("summary", pd.Series(dtype=object)).tolist():
        found = _COUNT.match(str(text))
        if found:
            (singular if found.group(1) == "1" else plural)[found.group(2)] += 1
    return (
        plural.most_common(1)[0][0] if plural else None,
        singular.most_common(1)[0][0] if singular else None,
    )


def stored_summary_config(prior: state.BuildState, summaries: pd.DataFrame) -> SummaryConfig:
    """The summary config to write new summaries of this store with (see the module's rule)."""
    if prior.summary is not None:
        return SummaryConfig.model_validate(prior.summary)
    plural, singular = _nouns_in(summaries)
    if plural is None and singular is None:
        return SummaryConfig(noun=noun_for_dataset(prior.dataset))
    config = SummaryConfig(noun=plural or f"{singular}s")
    if singular is not None and singular != config.singular:
        config = config.model_copy(update={"noun_singular": singular})
    return config
