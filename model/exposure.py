"""Per-provider values at the end of a run, for trust-by-trust exposure (``simulate(series=True)``).

One value per provider, in seed order: specialised income (£m), income from other ICBs' residents
(£m) and its change against the provider's fair-share path, surplus (£m), margin (share of
turnover), turnover (£m), the years the trust spent on cash support over the run, and the service
lines it withdrew. The experiments difference them between scenarios, seed by seed
(``experiments/compare/exposure.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = ["PROVIDER_VALUES", "run_tracking", "provider_values"]

# name -> what it is (units in the name: gbp_m = £m; shares are fractions)
PROVIDER_VALUES = {
    "spec_income_gbp_m": "specialised income this year (£m)",
    "out_of_area_income_gbp_m": "specialised income from other ICBs' residents this year (£m)",
    "out_of_area_income_change": "out-of-area income against the provider's fair-share path (fraction)",
    "surplus_gbp_m": "surplus (+) or deficit (-) this year, whole organisation (£m)",
    "margin": "surplus as a share of turnover (fraction)",
    "turnover_gbp_m": "turnover this year (£m)",
    "years_on_support": "years on cash support (revenue support) over the run",
    "lines_withdrawn": "service lines withdrawn and not restarted",
}


def run_tracking(model: CommissioningModel, years: int) -> np.ndarray:
    """Run ``years`` rounds (as ``model.run``) and count each provider's years on cash support."""
    if int(years) != years or years < 0:
        model.run(years)  # refuses it, with the model's message
        raise ParameterError(f"years: value {years!r} is not allowed")  # pragma: no cover
    on_support = np.zeros(model.data.n_providers)
    for _ in range(int(years)):
        model.step()
        on_support += model.state.needs_support
    return on_support


def provider_values(model: CommissioningModel, years_on_support: np.ndarray | None = None) -> dict[str, list[float]]:
    """The per-provider values of :data:`PROVIDER_VALUES` at the end of the run."""
    st, lines = model.state, model.lines
    P = model.data.n_providers

    def clean(x) -> list[float]:
        x = np.asarray(x, dtype=float)
        return [0.0 if abs(v) < 1e-9 else float(v) for v in x]

    inc = st.spec_income + st.subsidy.sum(axis=1)
    out_k = (st.payments * st.out_icb).sum(axis=0)
    oa = np.bincount(lines.p, weights=out_k, minlength=P)
    fair_price = st.price / st.price0
    fair_k = st.base_out_value_k * (st.vol_index * fair_price)[lines.s]
    fair = np.bincount(lines.p, weights=fair_k, minlength=P)
    oa_change = np.divide(oa, fair, out=np.zeros(P), where=fair > 0) - np.where(fair > 0, 1.0, 0.0)
    support = years_on_support if years_on_support is not None else st.support_years
    return {"spec_income_gbp_m": clean(inc), "out_of_area_income_gbp_m": clean(oa),
            "out_of_area_income_change": clean(oa_change), "surplus_gbp_m": clean(st.surplus),
            "margin": clean(st.margin), "turnover_gbp_m": clean(st.turnover),
            "years_on_support": clean(support), "lines_withdrawn": clean(st.withdrawn.sum(axis=1))}
