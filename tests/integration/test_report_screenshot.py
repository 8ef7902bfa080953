"""Render the report of a bundled MovieLens user to HTML and screenshot it in headless Chromium.

The pieces are the real stage outputs for user 474 (quarterly windows, 2,108 ratings, shifts found): windows,
template summaries, the explanation (template narrative), an EMA forecast (with random item vectors) and recommendations of unseen
items from the forecast's top categories. Skips only when no Chromium binary is installed.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from interest_tools.explain import explain_user
from interest_tools.report import write_report
from interest_tools.report._data import ReportConfig, ReportData, titles_from_items
from interest_tools.report._render import render_html
from interest_tools.summaries import TemplateSummarizer
from interest_tools.windows import WindowConfig, compute_windows

pytestmark = pytest.mark.integration
USER = "474"


def build_report_data(movielens) -> ReportData:
    from interest_tools.forecast import EMAForecaster
    from interest_tools.recommend import Recommendations, RecommendedItem

    events = movielens.events[movielens.events["user_id"] == USER]
    items = movielens.items
    table = compute_windows(events, items, WindowConfig(freq="quarter"))
    windows = table.for_user(USER)
    summaries = TemplateSummarizer().summarize(windows, items, events)
    vectors = np.random.default_rng(0).normal(size=(len(items), 8)).astype(np.float32)
    forecast = EMAForecaster(alpha=0.3, recent_windows=8).fit(table, items, vectors).forecast(USER)
    seen = set(events["item_id"])
    top = list(forecast.category_weights)[:3]
    recs = []
    for cat in top:
        pool = items[items["categories"].map(lambda cs, cat=cat: cat in cs) & ~items["item_id"].isin(seen)]
        for row in pool.head(2).itertuples():
            recs.append(
                RecommendedItem(
                    item_id=row.item_id,
                    title=row.title,
                    categories=list(row.categories),
                    score=round(1.0 - 0.05 * len(recs), 3),
                    reason=f"Your next quarter is forecast to be {forecast.category_weights[cat]:.0%} {cat}.",
                )
            )
    data = ReportData(
        user_id=USER,
        windows=windows,
        summaries=summaries,
        explanation=explain_user(windows, items),
        forecast=forecast,
        recommendations=Recommendations(user_id=USER, items=recs),
    )
    data.titles = titles_from_items(items, data.needed_item_ids())
    return data


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(chromium: str, page: Path, png: Path, profile: Path, size: str = "1280,2400") -> None:
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars",
        page.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def data(movielens) -> ReportData:
    return build_report_data(movielens)


def test_report_of_bundled_user_renders_in_chromium(data: ReportData, tmp_path: Path) -> None:
    assert len(data.windows) == 26
    shifts = data.explanation.shifts
    assert len(shifts) >= 1
    page = tmp_path / "report.html"
    assert write_report(data, page, ReportConfig()) == [page]
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 2
    assert "Shift 1" in text
    assert all(html.escape(r.title) in text for r in data.recommendations.items)

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium or chromium-browser binary on PATH: install Chromium to screenshot the report")
    png = tmp_path / "shot.png"
    screenshot(chromium, page, png, tmp_path / "profile")
    assert png.exists() and png.stat().st_size > 20_000

    import matplotlib.image as mpimg

    pixels = mpimg.imread(png)
    assert pixels.shape[0] == 2400 and pixels.shape[1] == 1280
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05  # not blank
    assert (gray < 0.5).mean() > 0.005  # some dark text and chart ink
    top, bottom = gray[:1200], gray[1200:]
    assert top.std() > 0.05 and bottom.std() > 0.05  # content fills the page, not just its top


def test_markdown_report_of_bundled_user(data: ReportData, tmp_path: Path) -> None:
    files = write_report(data, tmp_path / "report.md", ReportConfig(format="md"))
    assert [f.name for f in files] == ["report.md", "report_shares.png", "report_forecast.png"]
    text = files[0].read_text(encoding="utf-8")
    assert "![shares chart](report_shares.png)" in text
    assert "![forecast chart](report_forecast.png)" in text
    assert "## Recommendations" in text
    assert render_html(data).count("<h2>") == 5
