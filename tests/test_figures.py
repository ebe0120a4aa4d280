"""Figures that cannot mislead: value axes include zero, differences are paired with their
intervals and drawn next to the levels, one panel per scenario, units and financial years on the
axes, titles that state seeds and overrides; the ICB map carries its attribution.

The compare figures are drawn from a small synthetic results folder (no model runs), their
matplotlib figures captured before they are closed.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from commissim.experiments import charts  # noqa: E402
from commissim.experiments.compare import figures  # noqa: E402
from commissim.experiments.compare.differences import paired_difference, welch_difference  # noqa: E402
from commissim.model.measures import CURVE_MEASURES  # noqa: E402

SCENARIOS = ("nhse_direct", "full_delegation", "needs_based")


def test_include_zero_starts_counts_at_zero_and_marks_negative_values():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.0560, 0.0578])
    charts.include_zero(ax, [0.0560, 0.0578])
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > 0.0578  # a Gini from zero, not zoomed in
    fig2, ax2 = plt.subplots()
    charts.include_zero(ax2, [-3.0, 2.0], axis="x")
    lo, hi = ax2.get_xlim()
    assert lo < -3.0 and hi > 2.0 and any(line.get_xdata()[0] == 0 for line in ax2.lines)  # a zero line
    plt.close("all")


def test_units_of_differences_are_percentage_points():
    assert charts.difference_unit("out_of_area_share") == "percentage points"
    assert charts.difference_unit("unmet_need_share") == "percentage points of demand"
    assert charts.difference_unit("providers_destabilised") == "providers"
    assert charts.overrides_text({}) == "scenario defaults (no overrides)"
    assert charts.overrides_text({"system_weight": 10.0, "ringfence": "soft"}) == \
        "overrides: system_weight=10, ringfence=soft"


def _summaries(seed_effect: bool = True) -> pd.DataFrame:
    """Three scenarios x 8 replicates; a seed effect shared by the scenarios (common random numbers)."""
    gen = np.random.default_rng(3)
    seed_part = gen.normal(0, 5, 8) if seed_effect else np.zeros(8)
    rows = []
    for k, s in enumerate(SCENARIOS):
        for r in range(8):
            v = max(0.0, 10 + 0.5 * k + seed_part[r] + gen.normal(0, 0.2))
            row = {"run_id": f"p{k:04d}r{r:04d}", "point": k, "replicate": r, "seed": r, "scenario": s,
                   "providers_destabilised": round(v), "out_of_area_share": 0.37 + 0.003 * k + 0.001 * seed_part[r] + gen.normal(0, 0.0002),
                   "access_gini": 0.0560 + 0.0009 * k, "trust_sector_margin": -0.004 + 0.001 * k}
            row.update({c: round(v * (1 + 1 / (j + 1))) for j, c in enumerate(CURVE_MEASURES)})
            rows.append(row)
    return pd.DataFrame(rows)


def test_paired_differences_use_the_shared_seeds():
    s = _summaries()
    paired = paired_difference(s, "out_of_area_share", "needs_based", "nhse_direct", paired=True)
    welch = paired_difference(s, "out_of_area_share", "needs_based", "nhse_direct", paired=False)
    assert paired.paired and not welch.paired
    assert paired.estimate == pytest.approx(0.006, abs=2e-4) and welch.estimate == pytest.approx(paired.estimate)
    # the shared seed effect cancels in pairs: a far narrower interval than Welch's, and it excludes zero
    assert (paired.high - paired.low) < (welch.high - welch.low) / 10 and paired.clear and not welch.clear
    d = (s[s.scenario == "needs_based"].set_index("replicate")["out_of_area_share"]
         - s[s.scenario == "nhse_direct"].set_index("replicate")["out_of_area_share"])
    from scipy import stats

    half = stats.t.ppf(0.95, 7) * d.std(ddof=1) / np.sqrt(8)
    assert (paired.low, paired.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert welch_difference([1.0], [2.0]) is None


@pytest.fixture
def folder(tmp_path):
    s = _summaries()
    s.to_parquet(tmp_path / "summaries.parquet")
    series = []
    for _, r in s.iterrows():
        for rnd in range(4):
            series.append({"run_id": r.run_id, "point": r.point, "replicate": r.replicate, "scenario": r.scenario,
                           "round": rnd, "year": f"{2022 + rnd}-{(23 + rnd) % 100:02d}",
                           "providers_destabilised": r.providers_destabilised * rnd / 3,
                           "out_of_area_share": r.out_of_area_share, "access_gini": r.access_gini})
    pd.DataFrame(series).to_parquet(tmp_path / "series.parquet")
    manifest = {"config": {"replicates": 8, "years": 3, "common_seeds": True},
                "overrides": {"system_weight": 10.0},
                "design": [{"point": k, "scenario": sc} for k, sc in enumerate(SCENARIOS)]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


@pytest.fixture
def captured(monkeypatch):
    """The figures make_figures draws, by file name, before they are closed."""
    got = {}

    def keep(fig, path):
        got[path.name] = fig
        return path

    monkeypatch.setattr(figures, "_save", keep)
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)
    monkeypatch.setattr(figures, "REUSE_FIGURES", False)  # each figure its own, as drawn
    yield got
    matplotlib.pyplot.close("all")


def _title(fig) -> str:
    return fig._suptitle.get_text() if fig._suptitle else ""


def test_levels_next_to_paired_differences_with_their_intervals(folder, captured):
    figures.make_figures(folder)
    fig = captured["differences_out_of_area_share.png"]
    levels, diffs = fig.axes[:2]
    assert levels.get_xlim()[0] == 0.0  # a share from zero
    assert levels.get_xlabel() == "Out-of-area share of spend (%)"
    assert diffs.get_xlabel() == "difference from nhse_direct (percentage points)"
    assert [t.get_text() for t in levels.get_yticklabels()] == list(SCENARIOS)
    # every interval is inside the axes (no whisker cut off) and zero is on the axis
    d = paired_difference(_summaries(), "out_of_area_share", "needs_based", "nhse_direct")
    lo, hi = diffs.get_xlim()
    assert lo < min(0, d.low * 100) and hi > d.high * 100
    segments = [tuple(seg[:, 0]) for coll in diffs.collections if isinstance(coll, matplotlib.collections.LineCollection)
                for seg in coll.get_segments() if len(seg) == 2 and seg[0, 1] == seg[1, 1]]  # the horizontal ones
    assert any(seg == pytest.approx((d.low * 100, d.high * 100)) for seg in segments), segments
    title = _title(fig)
    assert "8 seeds per scenario, the same seeds in every scenario" in title and "system_weight=10" in title
    assert "paired by seed" in diffs.get_title()


def test_one_panel_per_scenario_from_zero_over_financial_years(folder, captured):
    figures.make_figures(folder)
    fig = captured["out_of_area_share.png"]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["nhse_direct (reference)", "full_delegation", "needs_based"]
    assert all(ax.get_ylim()[0] == 0.0 for ax in panels)  # shared axis from zero
    assert [t.get_text() for t in panels[0].get_xticklabels()][0] == "2022-23"
    assert fig._supxlabel.get_text() == "financial year" and fig._supylabel.get_text().endswith("(%)")
    assert "system_weight=10" in _title(fig)
    curve = captured["destabilisation_curve.png"]
    assert curve.axes[0].get_ylim()[0] == 0.0 and "deficit threshold" in curve._supxlabel.get_text()


def test_the_icb_map_draws_every_icb_with_its_attribution():
    from commissim.model import maps
    from commissim.model.data import load_seeds

    data = load_seeds()
    shapes = maps.boundaries()
    assert len(shapes) == 42 and set(map(str, data.icb_code)) <= set(shapes)
    fig, ax = plt.subplots()
    coll = maps.draw_icbs(ax, data, np.linspace(0, 1, data.n_icbs), cmap="viridis",
                          norm=matplotlib.colors.Normalize(0, 1))
    assert len(coll.get_paths()) == 42
    maps.attribution(fig)
    assert any("Open Government Licence v.3.0" in t.get_text() and "Crown copyright" in t.get_text()
               for t in fig.texts)
    plt.close(fig)


def test_labels_are_placed_without_overlap():
    from commissim.model import maps

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    maps.frame(ax, maps.LONDON)
    # eight providers crowded into central London
    xs = -0.1 + 0.01 * np.arange(8)
    ys = 51.5 + 0.004 * np.arange(8)
    anns = maps.place_labels(ax, xs, ys, [f"Provider number {k}" for k in range(8)])
    assert len(anns) == 8
    boxes = [a.commissim_box for a in anns]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert maps._overlap(boxes[i], boxes[j]) == 0, (i, j)
    plt.close(fig)


def test_figures_drawn_in_an_executor_are_the_same_files_in_the_same_order(folder):
    from commissim.experiments.batch.executors import SerialExecutor

    said_here, said_there = [], []
    here = figures.make_figures(folder, log=said_here.append)
    pngs = {p.name: p.read_bytes() for p in here}
    there = figures.make_figures(folder, log=said_there.append, executor=SerialExecutor())
    assert [p.name for p in there] == [p.name for p in here] and len(here) >= 5
    assert {p.name: p.read_bytes() for p in there} == pngs
    assert said_there == said_here
    assert not figures._FRAMES  # drawing here keeps no table after the figures


def _merge_difference(summaries, m, scenario, ref):
    """The paired difference as it was computed before: an inner merge on replicate."""
    a = summaries.loc[summaries["scenario"] == scenario, ["replicate", m]].dropna()
    b = summaries.loc[summaries["scenario"] == ref, ["replicate", m]].dropna()
    both = a.merge(b, on="replicate", suffixes=("_a", "_b"))
    d = (both[f"{m}_a"] - both[f"{m}_b"]).to_numpy(dtype=float)
    return np.where(np.abs(d) < 1e-12, 0.0, d)


def test_paired_differences_are_those_of_a_merge_on_replicate_missing_runs_and_repeats_included():
    s = _summaries().sample(frac=1.0, random_state=3).reset_index(drop=True)  # any row order
    s.loc[(s.scenario == "needs_based") & (s.replicate == 2), "out_of_area_share"] = np.nan  # a failed measure
    s = s[~((s.scenario == "nhse_direct") & (s.replicate == 5))]  # a run missing on the reference's side
    for frame in (s, pd.concat([s, s[(s.scenario == "needs_based") & (s.replicate == 1)]])):  # a repeated replicate
        d = _merge_difference(frame, "out_of_area_share", "needs_based", "nhse_direct")
        got = paired_difference(frame, "out_of_area_share", "needs_based", "nhse_direct")
        assert got.n == len(d) and got.estimate == float(d.mean())
        half = got.estimate - got.low
        from scipy import stats

        assert half == pytest.approx(stats.t.ppf(0.95, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)), rel=1e-12)


def test_the_report_waits_for_figures_drawn_elsewhere_before_listing_them(folder):
    from commissim.experiments.compare.report import write_report

    calls = []
    text = write_report(folder, figures_ready=lambda: calls.append(figures.make_figures(folder))).read_text()
    assert len(calls) == 1 and calls[0]
    assert "figures/destabilisation_curve.png" in text and "figures/out_of_area_share.png" in text


def _png(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _ink(image: np.ndarray) -> tuple[int, int]:
    """Height and width of what is drawn (pixels not white)."""
    rows, cols = np.flatnonzero((image != 255).any(axis=(1, 2))), np.flatnonzero((image != 255).any(axis=(0, 2)))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def test_tight_png_is_tight_savefig_drawn_once(monkeypatch):
    import io

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 2])
    ax.set_xlabel("financial year")
    fig.subplots_adjust(bottom=0.2, top=0.8)
    fig.suptitle("a title\nof two lines")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    want = _png(buf.getvalue())
    draws = []
    real_draw = type(fig).draw
    monkeypatch.setattr(type(fig), "draw", lambda self, renderer: draws.append(1) or real_draw(self, renderer))
    got = _png(charts.tight_png(fig, dpi=100))
    assert len(draws) == 1  # drawn once, not laid out and then drawn
    # the same drawing (what is drawn has the same size) with 0.1 in of margin, the margins following the
    # ink rather than the boxes of the texts (a few pixels tighter)
    assert _ink(got) == pytest.approx(_ink(want), abs=1)
    assert got.shape[2] == 3 and abs(got.shape[0] - want.shape[0]) <= 8 and abs(got.shape[1] - want.shape[1]) <= 8
    assert (got[:10] == 255).all() and (got[-10:] == 255).all() and (got[:, :10] == 255).all()
    plt.close(fig)


def test_tight_png_grows_the_canvas_as_savefig_does_for_what_leaves_the_figure():
    import io

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 2])
    fig.suptitle("a title far wider than the figure it belongs to, as some long titles are")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    want = _png(buf.getvalue())
    got = _png(charts.tight_png(fig, dpi=100))
    assert got.shape[1] > 3 * 100  # wider than the figure: the title whole
    assert _ink(got) == pytest.approx(_ink(want), abs=1)
    assert abs(got.shape[0] - want.shape[0]) <= 8 and abs(got.shape[1] - want.shape[1]) <= 8
    # drawn up to an edge by something else than a title (a tick label, say): still whole
    fig.suptitle("")
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 1], ["0", "a very long last tick label"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    want = _png(buf.getvalue())
    got = _png(charts.tight_png(fig, dpi=100))
    assert got.shape[1] > 3 * 100 and _ink(got) == pytest.approx(_ink(want), abs=1)
    plt.close(fig)


def test_png_encoder_round_trips_pixels_and_resolution():
    import io

    from PIL import Image

    rgb = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgb[10:20] = rgb[9]  # repeated rows, as a figure's are: the "Up" filter makes them zeros
    im = Image.open(io.BytesIO(charts._png(rgb, 130, "a test", 3)))
    assert im.mode == "RGB" and im.info["Software"] == "a test"
    assert im.info["dpi"] == pytest.approx((130, 130), abs=0.01)
    assert (np.asarray(im) == rgb).all()
