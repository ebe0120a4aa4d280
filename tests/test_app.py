"""In-process tests of the SolaraViz page (``model/app.py``) and ``commissim viz``.

The page is rendered with ``solara.render`` inside an ``AppLayout`` (as the
server does; without it the sidebar with the Step button is not rendered), and
its buttons and inputs are driven through their widgets.
"""

from __future__ import annotations

import io
import re
import socket

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from mesa.experimental.scenarios import Scenario as MesaScenario

from commissim.experiments.cli import build_parser
from commissim.experiments.cli import viz as cmd_viz
from commissim.experiments.errors import UserError
from commissim.model import app
from commissim.model.measures import MEASURE_BY_NAME
from commissim.model.model import CommissioningModel
from commissim.model.params import DEFAULTS, PARAM_BY_NAME
from commissim.model.scenarios import list_scenarios


# ----------------------------------------------------------------------- helpers
def render_page():
    @solara.component
    def Session():
        with solara.AppLayout():
            app.Page()

    box, rc = solara.render(Session(), handle_error=False)
    return rc


def click(rc, label: str) -> None:
    button = rc.find(v.Btn, children=[label])
    button.assert_single()
    button.widget.click()


def time_text(rc) -> str:
    """Mesa's step counter in the sidebar ("Time: N.0", it shows ``model.time``)."""
    texts = [f"Time: {n:.1f}" for n in range(50) if rc.find(children=[f"Time: {n:.1f}"])]
    assert len(texts) == 1, texts
    return texts[0]


def panel_html(rc, css_class: str) -> str:
    found = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets
             if w.unsafe_innerHTML and css_class in w.unsafe_innerHTML]
    assert len(found) == 1, f"expected one {css_class} panel, got {len(found)}"
    return found[0]


def images(rc) -> list[bytes]:
    return [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]


@pytest.fixture
def page():
    rc = render_page()
    yield rc
    rc.close()


# --------------------------------------------------------------- controls and model
def test_controls_follow_the_registry_and_scenarios():
    params = app.model_params()
    assert params["policy"]["type"] == "Select"
    assert params["policy"]["values"] == [s.name for s in list_scenarios()]
    assert params["policy"]["value"] in params["policy"]["values"]
    for name in app.SLIDER_PARAMS:
        spec = PARAM_BY_NAME[name]
        slider = params[name]
        assert slider["type"] == "SliderFloat"
        assert (slider["min"], slider["max"], slider["value"]) == (spec.low, spec.high, spec.default)
        assert 0 < slider["step"] <= (spec.high - spec.low) / 50
        # the default lies on the slider's grid
        assert abs(round((spec.default - spec.low) / slider["step"]) * slider["step"] + spec.low - spec.default) < 1e-9
    assert params["rng"]["type"] == "InputText"
    assert set(params) == {"policy", "rng", *app.SLIDER_PARAMS, *app.SELECT_PARAMS}
    assert params["ringfence"]["type"] == "Select" and params["ringfence"]["values"] == ["hard", "soft", "none"]


@pytest.mark.parametrize("text, seed, noted", [
    ("7", 7, False), (" 42 ", 42, False), (3, 3, False), ("5.0", 5, False),
    ("abc", app.DEFAULT_SEED, True), ("", app.DEFAULT_SEED, True), ("-4", app.DEFAULT_SEED, True),
    (None, app.DEFAULT_SEED, True), ("1.5", app.DEFAULT_SEED, True),
])
def test_parse_seed(text, seed, noted):
    got, note = app.parse_seed(text)
    assert got == seed and bool(note) == noted


def test_viz_model_takes_the_policy_and_ignores_mesas_scenario_object():
    # Mesa's Reset passes its own Scenario object as `scenario=`: it must not replace the policy.
    m = app.VizModel(policy="pan_icb", rng="5", scenario=MesaScenario(), system_weight=8.0)
    assert isinstance(m, CommissioningModel)
    assert m.policy_name == "pan_icb" and m.seed == 5 and m.p["system_weight"] == 8.0
    assert isinstance(m.scenario, MesaScenario)  # Mesa's own attribute left alone
    assert app.VizModel(scenario="trailblazer").policy_name == "trailblazer"
    bad = app.VizModel(rng="not a seed")
    assert bad.seed == app.DEFAULT_SEED and "not an integer" in bad.seed_note


def test_slider_at_default_keeps_the_scenarios_value():
    assert app.VizModel(policy="needs_based").p["needs_weight_target"] == 1.0
    assert app.VizModel(policy="needs_based", needs_weight_target=0.4).p["needs_weight_target"] == 0.4
    assert app.VizModel(policy="needs_based", needs_weight_target=DEFAULTS["needs_weight_target"]
                        ).p["needs_weight_target"] == 1.0
    # slider float noise is rounded and clipped into the registry range
    m = app.VizModel(nhse_tolerance=0.5000000000000001, funding_growth=0.030000000000000002)
    assert m.p["nhse_tolerance"] == 0.5 and m.p["funding_growth"] == 0.03


def test_same_seed_same_run():
    a, b = app.VizModel(policy="full_delegation", rng=3), app.VizModel(policy="full_delegation", rng="3")
    for _ in range(3):
        a.step()
        b.step()
    assert np.array_equal(a.state.spec_income, b.state.spec_income)


# ------------------------------------------------------------------------ readers
@pytest.fixture(scope="module")
def stressed():
    """A run with destabilised providers, so every colour and table state is exercised."""
    m = app.VizModel(policy="full_delegation", rng=2, funding_growth=0.01, deficit_severity=2.5, system_weight=20.0)
    for _ in range(8):
        m.step()
    return m


def test_out_of_area_flows_are_out_of_area_and_largest_first(stressed):
    flows = app.out_of_area_flows(stressed)
    assert len(flows) == app.N_FLOWS
    d = stressed.data
    values = [f[2] for f in flows]
    assert values == sorted(values, reverse=True) and values[-1] > 0
    for i, p, _ in flows:
        assert d.provider_icb[p] != i
    # they agree with the dense payments, summed over services
    dense = stressed.dense("payments").sum(axis=2)  # (I, P)
    i, p, value = flows[0]
    assert value == pytest.approx(dense[i, p])
    out = dense * (d.provider_icb[None, :] != np.arange(d.n_icbs)[:, None])
    assert value == pytest.approx(out.max())


def test_at_risk_ranks_cash_support_then_destabilised_then_margin(stressed):
    rows = app.at_risk(stressed, n=stressed.n_providers)
    rank = {"cash support": 2, "destabilised": 1, "stable": 0}
    states = [rank[r["state"]] for r in rows]
    assert states == sorted(states, reverse=True)
    assert states[0] >= 1, "the stressed run should have destabilised providers"
    for a, b in zip(rows, rows[1:]):
        if a["state"] == b["state"]:
            assert a["margin_pct"] <= b["margin_pct"] + 1e-9
    assert set(rows[0]) == {"provider", "host_icb", "income_change_pct", "margin_pct", "lines_withdrawn", "state"}
    assert int((app.provider_state(stressed) > 0).sum()) == int(stressed.state.destabilised.sum())


def test_panels_draw_after_several_steps(stressed):
    import io

    for make in (app.map_figure, app.series_figure):
        fig = make(stressed)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
        assert stressed.financial_year in fig.texts[0].get_text()
    table = app.at_risk_html(stressed)
    assert table.count("<tr>") == app.N_AT_RISK + 1
    assert "Guy&#x27;s" in table or "'" not in table  # names are escaped
    summary = app.summary_html(stressed)
    assert "full_delegation" in summary and stressed.financial_year in summary


# --------------------------------------------------------------- rendered page
def test_page_renders_all_panels(page):
    assert time_text(page) == "Time: 0.0"
    assert len(images(page)) == 3  # map, time series and the chosen provider
    assert "Providers most at risk" in panel_html(page, "commissim-at-risk")
    assert "nhse_direct" in panel_html(page, "commissim-summary")
    labels = {w.label for w in page.find(v.Slider).widgets}
    for name, label in app.SLIDER_PARAMS.items():
        assert any(lab.startswith(label) for lab in labels), name
    page.find(v.Select, label="Scenario").assert_single()
    page.find(v.TextField, label="Seed (integer)").assert_single()


def test_clicking_step_advances_the_model_and_redraws(page):
    before = images(page)
    summary0 = panel_html(page, "commissim-summary")
    for n in range(1, 4):
        click(page, "Step")
        assert time_text(page) == f"Time: {n}.0"
    after = images(page)
    assert after[0] != before[0] and after[1] != before[1] and after[2] != before[2]
    summary = panel_html(page, "commissim-summary")
    assert summary != summary0 and "(step 3)" in summary and "2025-26" in summary


def test_two_sessions_have_their_own_models():
    a, b = render_page(), render_page()
    try:
        click(a, "Step")
        click(a, "Step")
        assert time_text(a) == "Time: 2.0"
        assert time_text(b) == "Time: 0.0"
        click(b, "Step")
        assert (time_text(a), time_text(b)) == ("Time: 2.0", "Time: 1.0")
    finally:
        a.close()
        b.close()
    # and the module holds no model that every session would share
    assert not [k for k, val in vars(app).items() if isinstance(val, CommissioningModel)]


def test_new_controls_and_reset_build_a_new_model(page):
    click(page, "Step")
    assert time_text(page) == "Time: 1.0"
    page.find(v.Select, label="Scenario").widget.v_model = "needs_based"
    slider = [w for w in page.find(v.Slider).widgets if w.label.startswith(app.SLIDER_PARAMS["system_weight"])]
    assert len(slider) == 1
    slider[0].v_model = 12.0
    seed = page.find(v.TextField, label="Seed (integer)").widget
    seed.v_model = "11"
    seed.fire_event("focusout", None)
    # nothing changes until Reset
    assert time_text(page) == "Time: 1.0"
    assert "nhse_direct" in panel_html(page, "commissim-summary")
    click(page, "Reset")
    assert time_text(page) == "Time: 0.0"
    summary = panel_html(page, "commissim-summary")
    assert "needs_based · 2022-23 (step 0)" in summary
    assert ">12<" in summary and ">11<" in summary  # system weight and seed in force
    assert "Needs-weight target" in summary and ">1<" in summary  # scenario's own value kept
    click(page, "Step")
    assert time_text(page) == "Time: 1.0"
    assert "needs_based · 2023-24 (step 1)" in panel_html(page, "commissim-summary")


def test_bad_seed_is_reported_not_raised(page):
    seed = page.find(v.TextField, label="Seed (integer)").widget
    seed.v_model = "twelve"
    seed.fire_event("focusout", None)
    click(page, "Reset")
    summary = panel_html(page, "commissim-summary")
    assert "is not an integer" in summary


# ------------------------------------------------------------------ commissim viz
def test_viz_command_line():
    args = build_parser("viz").parse_args(["viz"])
    assert (args.host, args.port) == ("127.0.0.1", 8765)
    args = build_parser("viz").parse_args(["viz", "--port", "9001", "--host", "localhost"])
    assert (args.host, args.port) == ("localhost", 9001)
    cmd = cmd_viz.server_command("127.0.0.1", 9001)
    assert cmd[1:5] == ["-m", "solara", "run", "commissim.model.app"]
    for flag in ("--production", "--no-open", "--no-check-version"):
        assert flag in cmd
    assert cmd_viz.server_env()["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert cmd_viz.server_env()["SOLARA_THEME_SHOW_BANNER"] == "False"  # no banner over the summary table
    assert cmd_viz.url("127.0.0.1", 8765) == "http://127.0.0.1:8765"


def test_viz_refuses_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1 is already in use"):
            cmd_viz.check_port("127.0.0.1", port)
    with pytest.raises(UserError, match="not a valid port"):
        cmd_viz.check_port("127.0.0.1", 70000)


def test_viz_busy_port_is_a_clean_cli_error(capsys):
    from commissim.experiments.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["viz", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "already in use" in err and "Traceback" not in err


# ------------------------------------------------------------------ issue 11: the page's honesty
def _slider(rc, name):
    found = [w for w in rc.find(v.Slider).widgets if w.label.startswith(app.SLIDER_PARAMS[name])]
    assert len(found) == 1
    return found[0]


def test_sliders_show_their_values(page):
    s = _slider(page, "system_weight")
    assert s.label == f"{app.SLIDER_PARAMS['system_weight']}: 5 [0–20]"
    s.v_model = 12.4
    assert _slider(page, "system_weight").label.startswith(f"{app.SLIDER_PARAMS['system_weight']}: 12.4 [")
    g = _slider(page, "funding_growth")
    assert ": 0.05 [" in g.label  # the registry default, no float noise
    assert app.slider_value_text(0.030000000000000002, 0.001) == "0.03" and app.slider_value_text(-0.0, 0.1) == "0"
    # Reset with a slider never moved: the bound value (a reactive variable) reaches the model as a number
    click(page, "Reset")
    assert ">12.4<" in panel_html(page, "commissim-summary")


def test_no_stray_page_tab(page):
    assert not page.find(v.Tab).widgets
    assert not page.find(children=["Page 0"]).widgets


def test_time_axes_are_financial_years_from_the_start_without_float_noise():
    m = app.VizModel(policy="full_delegation")
    fig = app.series_figure(m)  # step 0: one point per panel
    for k, ax in enumerate(fig.axes):
        lo, hi = ax.get_xlim()
        assert -1 < lo <= 0 and app.MIN_YEARS_SHOWN <= hi < app.MIN_YEARS_SHOWN + 1  # not 1950-2100
        if k >= 2:  # the bottom row carries the year labels (the axes share x)
            labels = [t.get_text() for t in ax.get_xticklabels()]
            assert labels[0] == "2022-23" and all(re.fullmatch(r"20\d\d-\d\d", t) for t in labels)
        assert ax.get_ylim()[0] <= 0 <= ax.get_ylim()[1]
    for _ in range(3):
        m.step()
    fig = app.series_figure(m)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    for ax in fig.axes:
        assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e-15" offset
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert not [t for t in ticks if "e" in t.lower()], ticks
    unmet = fig.axes[3]
    assert unmet.get_ylim()[0] == 0.0 and unmet.get_xlabel() == "financial year"


def test_the_map_shows_icb_areas_and_the_attribution():
    m = app.VizModel(policy="full_delegation", rng=2, funding_growth=0.01, deficit_severity=2.5)
    for _ in range(4):
        m.step()
    for measure in app.MAP_MEASURES:
        fig = app.map_figure(m, measure)
        main = fig.axes[0]
        areas = [c for c in main.collections if len(c.get_paths()) == 42]
        assert areas, "no ICB areas drawn"
        assert any("Open Government Licence" in t.get_text() for t in fig.texts)
        assert MEASURE_BY_NAME[measure].label in fig._suptitle.get_text()


def test_the_map_measure_can_be_chosen(page):
    before = images(page)
    sel = page.find(v.Select, label="Map: ICB measure").widget
    assert set(sel.items) == {MEASURE_BY_NAME[x].label for x in app.MAP_MEASURES}
    sel.v_model = MEASURE_BY_NAME["icb_budget_change"].label
    after = images(page)
    assert sum(a != b for a, b in zip(after, before)) == 1  # the map is redrawn, the time series is not


def test_at_risk_table_has_no_negative_zero():
    assert app.signed_pct(-0.04) == "0.0%" and app.signed_pct(-0.06) == "-0.1%" and app.signed_pct(1.26) == "+1.3%"


def test_provider_panel_draws_the_chosen_provider_over_the_years():
    m = app.VizModel("full_delegation", 1)
    for _ in range(3):
        m.step()
    assert len(m.provider_history) == 4  # the base year and three rounds
    choices = app.provider_choices(m)
    assert len(choices) == m.data.n_providers
    p = list(choices.values())[5]
    fig = app.provider_figure(m, p)
    axes = fig.axes
    assert [a.get_title() for a in axes] == [t for _, t, _ in app.PROVIDER_PANELS]
    income = axes[0].lines[0].get_ydata()
    assert len(income) == 4 and income[-1] == pytest.approx(m.state.spec_income[p])
    assert str(m.data.provider_short[p]) in fig._suptitle.get_text()
    assert axes[2].get_xticklabels()[0].get_text() == "2022-23"


def test_series_axes_never_shrink_below_the_measures_resolution():
    m = app.VizModel("nhse_direct", 1)
    fig = app.series_figure(m)
    unmet = next(a for a in fig.axes if a.get_title() == "Unmet need")
    lo, hi = unmet.get_ylim()
    assert hi - lo >= 5 * app.MEASURE_BY_NAME["unmet_need_share"].min_difference * 0.99


def test_a_change_map_all_on_one_side_of_zero_starts_its_colour_scale_at_zero():
    from commissim.model import maps

    _, norm = maps._norm("icb_budget_change", np.array([37.1, 37.5, 38.0]))
    assert norm.vmin == 0.0 and norm.vmax == 38.0  # not a 37-38% scale that paints 1 point as a spread
    _, norm = maps._norm("icb_out_of_area_spend_change", np.array([-4.0, 2.0]))
    assert norm.vmin < 0 < norm.vmax  # across zero: diverging around it
