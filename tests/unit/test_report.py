"""The explainability report: self-contained HTML, every piece shown, user text escaped, Markdown beside PNGs."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image as mpimg
import pytest

from interest_tools.errors import ConfigError
from interest_tools.explain import Explanation
from interest_tools.explain._models import CategoryChange, Shift, Span, StableInterest
from interest_tools.forecast import CategoryShift, Forecast, NextWindow
from interest_tools.recommend import Recommendations, RecommendedItem
from interest_tools.report import write_report
from interest_tools.report._charts import category_colors, top_categories
from interest_tools.report._data import (
    ReportConfig,
    ReportData,
    build_charts,
    period_label,
    span_label,
    titles_from_items,
)
from interest_tools.report._render import render_html
from interest_tools.summaries import WindowSummary
from interest_tools.windows import Window

EVIL = '<script>alert("x")</script>'


def month(i: int) -> datetime:
    return datetime(2020 + i // 12, i % 12 + 1, 1, tzinfo=UTC)


def make_windows() -> list[Window]:
    wins = []
    for i in range(8):
        cats = {"Sci-Fi": 0.7, "Comedy": 0.3} if i < 4 else {"Documentary": 0.6, "Comedy": 0.3, "Romance": 0.1}
        items = ["i01", "i02"] if i < 4 else ["i10", "i11"]
        wins.append(
            Window(
                user_id="u1", index=600 + i, start=month(i), end=month(i + 1), n_events=10 + i, item_ids=items,
                category_weights=cats, top_items=items, new_categories=[], faded_categories=[], mean_rating=4.0,
            )
        )  # fmt: skip
    return wins


def make_shift() -> Shift:
    return Shift(
        before=Span(start=month(0), end=month(4)),
        after=Span(start=month(4), end=month(8)),
        rising=[CategoryChange(category="Documentary", before=0.0, after=0.6)],
        falling=[CategoryChange(category="Sci-Fi", before=0.7, after=0.0)],
        new=[CategoryChange(category="Romance", before=0.0, after=0.1)],
        faded=[],
        magnitude=0.7,
        evidence_item_ids=["i10", "i01"],
    )


def make_explanation(shifts: list, narrative: str = "You moved from Sci-Fi to Documentary in May 2020.") -> Explanation:
    stable = [StableInterest(category="Comedy", share=0.3, coverage=1.0)]
    return Explanation(user_id="u1", shifts=shifts, stable=stable, narrative=narrative)


def make_data(title: str = "Planet Deep & Blue", reason: str = "Because you liked Cosmos & more.") -> ReportData:
    wins = make_windows()
    summaries = [
        WindowSummary(
            user_id="u1", index=w.index, start=w.start, end=w.end, source="template",
            summary=f"In {w.start:%B %Y} you watched {w.n_events} films, mostly {next(iter(w.category_weights))}.",
            mentioned_categories=[next(iter(w.category_weights))], mentioned_item_ids=[],
        )
        for w in wins
    ]  # fmt: skip
    forecast = Forecast(
        user_id="u1",
        next_window=NextWindow(start=month(8), end=month(9)),
        category_weights={"Documentary": 0.55, "Comedy": 0.3, "History": 0.15},
        rising=[CategoryShift(category="History", before=0.0, after=0.15)],
        falling=[CategoryShift(category="Romance", before=0.1, after=0.0)],
        model="ema",
    )
    recs = Recommendations(
        user_id="u1",
        items=[
            RecommendedItem(item_id="r1", title=title, categories=["Documentary"], score=0.91, reason=reason),
            RecommendedItem(
                item_id="r2", title="Comedy Film 5", categories=["Comedy"], score=0.5,
                reason="You keep coming back to Comedy (30% of your next month).",
            ),
        ],
    )  # fmt: skip
    titles = {"i01": "Star Voyage (1999)", "i02": "Space Cops", "i10": "Ocean Life (2004)", "i11": "Bees"}
    return ReportData(
        user_id="u1", windows=wins, summaries=summaries, explanation=make_explanation([make_shift()]),
        forecast=forecast, recommendations=recs, titles=titles,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data() -> ReportData:
    return make_data()


@pytest.fixture(scope="module")
def page(data: ReportData) -> str:
    return render_html(data)


def test_html_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "url(" not in page and "@import" not in page
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page  # CSP: nothing may load from anywhere
    assert page.count('src="data:image/png;base64,') == 2


def test_embedded_chart_is_a_readable_png(page: str) -> None:
    first = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert first is not None
    png = base64.b64decode(first.group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    assert 850 <= width <= 1100 and 330 <= height <= 450  # about 10 x 4 inches at 100 dpi
    assert pixels[..., :3].std() > 0.1  # bars drawn, not blank


def test_every_piece_is_shown(data: ReportData, page: str) -> None:
    for s in data.summaries:
        assert s.summary in page
    for cat in ("Documentary", "Sci-Fi", "Romance"):  # rising, falling, new
        assert cat in page
    assert "Shift 1: Jan 2020 – Apr 2020 → May 2020 – Aug 2020 (magnitude 0.70)" in page
    assert "Ocean Life (2004)" in page and "Star Voyage (1999)" in page  # evidence by title
    assert "<b>Evidence after the shift:</b> Ocean Life (2004)" in page
    assert "<b>Evidence before the shift:</b> Star Voyage (1999)" in page
    assert "You moved from Sci-Fi to Documentary in May 2020." in page
    assert "Stable interests" in page and "Comedy 30%" in page
    assert "Forecast of Sep 2020" in page and "History" in page
    assert "<td>rising ▲</td><td>" in page and "<td>falling ▼</td>" in page
    assert "Planet Deep &amp; Blue" in page and "Because you liked Cosmos &amp; more." in page
    assert "Comedy Film 5" in page and "You keep coming back to Comedy (30% of your next month)." in page
    assert "May 2020 <b>· Shift 1</b>" in page  # the shift is marked in the window table


def test_explanation_titles_preferences_and_llm_narrative(data: ReportData) -> None:
    explanation = make_explanation([make_shift()], narrative="An LLM wrote this.")
    explanation.titles = {"i10": "Ocean Life from the explanation", "i01": "Star Voyage from the explanation"}
    explanation.stated_preferences = ["no more <horror>"]
    explanation.narrative_source = "llm"
    page = render_html(ReportData(user_id="u1", windows=data.windows, explanation=explanation, titles={"i01": "Mine"}))
    assert "Ocean Life from the explanation" in page  # missing from ReportData.titles: the explanation's title
    assert "Mine" in page and "Star Voyage from the explanation" not in page  # ReportData.titles first
    assert "<b>What you said:</b> no more &lt;horror&gt;" in page
    assert "An LLM wrote this." in page and "Narrative written by an LLM" in page


def test_sections_in_reading_order(page: str) -> None:
    heads = re.findall(r"<h2>(.*?)</h2>", page)
    assert heads == [
        "Interests over time", "How interests shifted", "Next window forecast", "Recommendations", "Window by window",
    ]  # fmt: skip


def test_user_text_is_escaped() -> None:
    data = make_data(title=EVIL, reason='"><img src=x onerror=alert(1)>')
    data.titles["i10"] = "<b>bold</b> title"
    data.explanation = make_explanation([make_shift()], narrative="<iframe src=//evil.example></iframe>")
    data.summaries[0].summary = "<style>body{display:none}</style>"
    page = render_html(data, ReportConfig(title="<h1>t</h1>"))
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>bold</b> title" not in page and "&lt;b&gt;bold&lt;/b&gt; title" in page
    assert "<iframe" not in page and "&lt;iframe" in page
    assert "<style>body{display:none}" not in page and "&lt;style&gt;body{display:none}" in page
    assert "<h1>t</h1>" not in page and "<title>&lt;h1&gt;t&lt;/h1&gt;</title>" in page
    assert page.count("<img ") == 2  # only the two charts


def test_tables_use_the_chart_colours(data: ReportData, page: str) -> None:
    charts = build_charts(data, ReportConfig())
    ranked = top_categories(
        [SimpleNamespace(shares=w.category_weights) for w in data.windows]
        + [SimpleNamespace(shares=data.forecast.category_weights)],
        [w.n_events for w in data.windows] + [sum(w.n_events for w in data.windows) / 8],
        18,
    )
    # Documentary 0.6*62 + 0.55*13.5 > Comedy 0.3*108 + 0.3*13.5 > Sci-Fi 0.7*46
    assert ranked[:3] == ["Documentary", "Comedy", "Sci-Fi"]
    assert charts.colors == category_colors(ranked)
    for cat in ("Documentary", "Comedy", "History"):
        assert f'<i style="background:{charts.colors[cat]}"></i>{cat}' in page
    assert charts.colors["other"] == "#c8ccd2" and len(set(charts.colors.values())) == len(charts.colors)


def test_windows_listed_are_the_most_recent(data: ReportData) -> None:
    page = render_html(data, ReportConfig(max_windows_listed=3))
    listed = [s.summary for s in data.summaries if s.summary in page]
    assert listed == [s.summary for s in data.summaries[-3:]]
    assert "5 earlier windows are not listed." in page


def test_explanation_as_json_with_string_changes(data: ReportData) -> None:
    shift = make_shift().model_dump(mode="json")
    shift["new"], shift["faded"] = ["Romance"], ["Horror"]
    data2 = ReportData(
        user_id="u1", windows=data.windows, explanation={"user_id": "u1", "shifts": [shift], "stable": ["Comedy"]}
    )
    page = render_html(data2)
    assert '<td>new</td><td><span class="chip">' in page and "Horror" in page
    assert "Shift 1: Jan 2020 – Apr 2020 → May 2020 – Aug 2020" in page
    assert "No forecast was given." in page and "No recommendations were given." in page
    assert page.count("data:image/png;base64,") == 1  # share chart only


def test_empty_report_still_renders(tmp_path: Path) -> None:
    files = write_report(ReportData(user_id="nobody"), tmp_path / "r.html")
    text = files[0].read_text(encoding="utf-8")
    assert "Interests of user nobody" in text and "No windows to chart." in text
    assert "No explanation was given." in text and "data:image" not in text


def test_markdown_report_links_charts_beside_it(tmp_path: Path) -> None:
    data = make_data(title="A | B [link](x) <b>")
    out = tmp_path / "sub" / "rep.md"
    out.parent.mkdir()
    files = write_report(data, out, ReportConfig(format="md"))
    assert files == [out, out.with_name("rep_shares.png"), out.with_name("rep_forecast.png")]
    for png in files[1:]:
        assert png.read_bytes()[:4] == b"\x89PNG"
    text = out.read_text(encoding="utf-8")
    assert "![shares chart](rep_shares.png)" in text and "![forecast chart](rep_forecast.png)" in text
    assert "## How interests shifted" in text and "### Shift 1:" in text
    assert "A \\| B \\[link\\](x) &lt;b&gt;" in text  # table cell stays one cell, no link, no markup
    row = next(line for line in text.splitlines() if "\\[link\\]" in line)
    assert row.count(" | ") == 4  # five columns: #, title, categories, score, why
    for s in data.summaries:
        assert s.summary in text


def test_markdown_chart_links_survive_odd_file_names(tmp_path: Path) -> None:
    files = write_report(make_data(), tmp_path / "my report (v2).md", ReportConfig(format="md"))
    assert files[1].name == "my report (v2)_shares.png" and files[1].exists()
    assert "![shares chart](my%20report%20%28v2%29_shares.png)" in files[0].read_text(encoding="utf-8")


def test_write_report_into_missing_folder_is_a_config_error(data: ReportData, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(data, tmp_path / "nope" / "r.html")


def test_config_round_trips_and_validates() -> None:
    cfg = ReportConfig(format="md", max_categories=5, title="T", max_windows_listed=4)
    assert ReportConfig.model_validate(cfg.model_dump()) == cfg
    assert all(f.description for f in ReportConfig.model_fields.values())
    with pytest.raises(ValueError):
        ReportConfig(format="pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ReportConfig(colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (datetime(2020, 3, 1, tzinfo=UTC), datetime(2020, 4, 1, tzinfo=UTC), "Mar 2020"),
        (datetime(2020, 4, 1, tzinfo=UTC), datetime(2020, 7, 1, tzinfo=UTC), "Q2 2020"),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC), "2020"),
        (datetime(2020, 3, 2, tzinfo=UTC), datetime(2020, 3, 9, tzinfo=UTC), "week of 2020-03-02"),
        (datetime(2020, 3, 2, 10, tzinfo=UTC), datetime(2020, 3, 2, 11, tzinfo=UTC), "2020-03-02 10:00–10:59"),
        ("2020-03-05T00:00:00Z", "2020-04-20T00:00:00Z", "2020-03-05 – 2020-04-19"),
    ],
)
def test_period_label(start, end, label: str) -> None:
    assert period_label(start, end) == label


def test_span_label_of_month_aligned_spans() -> None:
    assert span_label(month(0), month(6)) == "Jan 2020 – Jun 2020"
    assert span_label(month(0), month(1)) == "Jan 2020"


def test_needed_item_ids_and_titles(data: ReportData, items) -> None:
    assert data.needed_item_ids() == ["i01", "i02", "i10", "i11"]
    assert titles_from_items(items, ["i00", "i04", "zz"]) == {"i00": "Sci-Fi Film 0", "i04": "Comedy Film 4"}


# ---------------------------------------------------------------------------------------------- issue 12, section 5


def test_categories_with_dollar_signs_are_drawn_as_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.text

    import interest_tools.report._charts as charts

    figures = []
    real_png = charts._png
    monkeypatch.setattr(charts, "_png", lambda fig, dpi: figures.append(fig) or real_png(fig, dpi))
    odd = {"$\\undefinedcmd$": 0.5, "$10-$20": 0.3, "Comedy": 0.2}
    data = make_data()
    for w in data.windows:
        w.category_weights = odd  # used to fail the whole report with mathtext's ParseFatalException
    data.forecast.category_weights = odd
    result = build_charts(data, ReportConfig())
    assert result.shares_png and result.forecast_png
    texts = [t for fig in figures for t in fig.findobj(matplotlib.text.Text) if "$" in t.get_text()]
    assert {t.get_text().split(" ")[0] for t in texts} >= {"$\\undefinedcmd$", "$10-$20"}
    for t in texts:  # drawn as written: no part of the label is read as TeX
        assert t._preprocess_math(t.get_text()) == (t.get_text(), False)


def test_report_refuses_existing_files_unless_overwrite(data: ReportData, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    write_report(data, out, ReportConfig(format="md"), overwrite=False)
    out.write_text("mine")
    with pytest.raises(ConfigError, match="--force"):
        write_report(data, out, ReportConfig(format="md"), overwrite=False)
    assert out.read_text() == "mine"
    out.unlink()
    with pytest.raises(ConfigError, match="r_shares.png"):  # a chart left from before counts too
        write_report(data, out, ReportConfig(format="md"), overwrite=False)
    assert not out.exists()
    files = write_report(data, out, ReportConfig(format="md"), overwrite=True)
    assert out.read_text(encoding="utf-8").startswith("#") and len(files) == 3


def test_markdown_report_into_a_folder_or_failing_midway_leaves_no_files(data: ReportData, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        write_report(data, folder, ReportConfig(format="md"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any(folder.iterdir())
    (tmp_path / "r_forecast.png").mkdir()  # the last file cannot be written
    with pytest.raises(ConfigError, match="cannot write the report"):
        write_report(data, tmp_path / "r.md", ReportConfig(format="md"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "r_forecast.png"]


# ------------------------------------------------------------------------------------------- issue 15, item 5


def test_every_category_a_shift_names_gets_its_own_colour_in_the_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    import interest_tools.report._charts as charts

    drawn: list[list[str]] = []
    real = charts.share_chart

    def spy(bars, cats, *args, **kwargs):
        drawn.append(list(cats))
        return real(bars, cats, *args, **kwargs)

    monkeypatch.setattr(charts, "share_chart", spy)
    data = make_data()
    result = build_charts(data, ReportConfig(max_categories=1))  # Romance (new, 10%) would be "other"
    assert {"Documentary", "Sci-Fi", "Romance"} <= set(drawn[0])
    assert all(result.colors[c] != charts.OTHER_COLOR for c in ("Documentary", "Sci-Fi", "Romance"))


def test_forecast_leaves_out_unknown_and_a_shift_row_is_new_not_also_rising() -> None:
    from interest_tools.report._render import render_markdown

    data = make_data()
    data.forecast = data.forecast.model_copy(
        update={
            "category_weights": {"Documentary": 0.5, "unknown": 0.3, "Comedy": 0.2},
            "rising": [CategoryShift(category="unknown", before=0.0, after=0.3)],
        }
    )
    shift = make_shift().model_copy(update={"new": [CategoryChange(category="Documentary", before=0.0, after=0.6)]})
    data.explanation = make_explanation([shift])
    text = render_markdown(data, chart_names={})
    forecast = text.split("## Next window forecast")[1].split("## Recommendations")[0]
    assert "unknown" not in forecast
    rows = [line for line in text.splitlines() if line.startswith("| ") and "Documentary" in line and "pts" in line]
    assert len(rows) == 1 and rows[0].startswith("| new |")


def test_long_histories_are_charted_by_quarter_or_year() -> None:
    from interest_tools.report._charts import pooled_bars

    def windows(n: int) -> list[Window]:
        return [
            Window(
                user_id="u1", index=i, start=month(i), end=month(i + 1), n_events=1 + i % 3, item_ids=["i01"],
                category_weights={"Drama": 0.5, "Comedy": 0.5} if i % 2 else {"Drama": 1.0}, top_items=["i01"],
                new_categories=[], faded_categories=[], mean_rating=None,
            )
            for i in range(n)
        ]  # fmt: skip

    bars, weights, unit = pooled_bars(windows(40))
    assert unit == "window" and len(bars) == 40
    bars, weights, unit = pooled_bars(windows(124))  # user 414: 124 monthly windows
    assert unit == "quarter" and len(bars) == 42
    assert (bars[0].start, bars[0].end) == (month(0), month(3))
    bars, weights, unit = pooled_bars(windows(124), max_pooled=40)
    assert unit == "year" and len(bars) == 11
    assert sum(weights) == sum(1 + i % 3 for i in range(124))
    for bar in bars:
        assert sum(bar.shares.values()) == pytest.approx(1.0)
    # the first year: 12 months, odd months half Comedy, pooled by events
    first = windows(12)
    comedy = sum(0.5 * w.n_events for w in first if w.index % 2) / sum(w.n_events for w in first)
    assert bars[0].shares["Comedy"] == pytest.approx(comedy)
    assert (bars[0].start, bars[0].end) == (month(0), month(12))


def test_narrative_examples_say_which_side_of_the_shift() -> None:
    from interest_tools.explain import explain_user
    from tests.harness.synth import A, B, shifted, windows_of

    wins, items = windows_of([shifted("u", 8, 8, A, B)], seed=0)
    ex = explain_user(wins["u"], items)
    line = next(p for p in ex.narrative.split("\n\n") if "Examples from the history" in p)
    examples = line.split("Examples from the history: ")[1]
    before, after = examples.split("; after it ")
    assert before.startswith("before the shift ")
    assert "Sci-Fi" in before or "Horror" in before
    assert "Documentary" in after or "Romance" in after
    assert "Documentary" not in before and "Sci-Fi" not in after
