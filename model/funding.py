"""The money path: what the year's national allocation, prices and cost growth are.

Each figure comes from ``seeds/funding.csv`` for the years it covers (published where a figure
was found, derived or assumed otherwise, each row with its source), and from the model's
parameters for later years:

- ``allocation(year)``: national specialised allocation (£m), published 2022-23 to 2023-24,
  derived 2024-25 and 2025-26; later years grow by ``funding_growth``;
- ``tariff(year)``: (cost uplift factor, efficiency factor) of the NHS Payment Scheme; prices of
  tariff-paid lines rise by their difference; later years use ``cost_inflation`` and
  ``efficiency_factor``;
- ``cost_growth(year)``: providers' input-cost inflation: ``pay_share`` x pay award +
  (1 - ``pay_share``) x non-pay inflation where the seeds give them (2023-24, 2024-25), else the
  year's cost uplift factor (``cost_inflation`` after 2025-26), plus any unfunded cost pressure of
  the year (2023-24: calibrated to that year's trust sector outturn, ``seeds/calibrate.py``);
- ``core_growth(year)``: growth of ICB core allocations (and of trusts' non-specialised income);
- ``provider_support(year)``: national in-year and deficit support to trusts (£m), shared with
  the modelled trusts in proportion to their part of the sector's income.

Nothing here is fitted to the model's own output: the path is an input.
"""

from __future__ import annotations

from typing import Any

from .data import SeedData


class MoneyPath:
    """Year-by-year money for one run; ``p`` is read at each call, so [[changes]] take effect."""

    def __init__(self, data: SeedData, params: dict[str, Any]):
        self.data = data
        self.p = params
        alloc = data.funding.get("specialised_allocation", {})
        self.first_year = min(alloc)
        self.last_seed_year = max(alloc)
        self._allocation: dict[int, float] = {y: v * 1e3 for y, v in alloc.items()}

    def _seed(self, name: str, year: int) -> float | None:
        return self.data.series(name, year)

    def allocation(self, year: int) -> float:
        """National specialised allocation, £m, for the financial year starting ``year``."""
        if year in self._allocation:
            return self._allocation[year]
        if year < self.first_year:
            raise ValueError(f"no specialised allocation before {self.first_year}")
        value = self.allocation(year - 1) * (1.0 + self.p["funding_growth"])
        if year > self.last_seed_year:
            self._allocation[year] = value  # memoised: growth is applied once per year
        return value

    def tariff(self, year: int) -> tuple[float, float]:
        """(cost uplift factor, efficiency factor) for tariff prices in ``year``."""
        cuf = self._seed("tariff_cost_uplift", year)
        ef = self._seed("tariff_efficiency", year)
        return (self.p["cost_inflation"] if cuf is None else cuf,
                self.p["efficiency_factor"] if ef is None else ef)

    def cost_growth(self, year: int) -> float:
        """Providers' input-cost inflation in ``year`` (before their own efficiency): from the pay award and
        non-pay inflation where the seeds give both, else equal to the tariff's cost uplift factor (revised
        for the pay awards: NHS England did so in 2024-25 and 2025-26)."""
        pay = self._seed("pay_award", year)
        nonpay = self._seed("nonpay_inflation", year)
        extra = self._seed("unfunded_cost_pressure", year) or 0.0
        if pay is None or nonpay is None:
            return self.tariff(year)[0] + extra
        share = self.p["pay_share"]
        return share * pay + (1 - share) * nonpay + extra

    def activity_pressure(self, year: int) -> float:
        """Activity and case-mix growth beyond the services' trends in ``year``: the calibrated value of
        seeds/funding.csv through the published years (fitted on the 2023-24 outturn), then the parameter
        ``activity_pressure``, so sweeping it leaves the calibrated years as they were."""
        calibrated = self.data.funding.get("activity_pressure", {})
        if calibrated and year <= self.last_seed_year:
            return calibrated.get(year, calibrated[max(y for y in calibrated if y <= year)] if any(
                y <= year for y in calibrated) else self.p["activity_pressure"])
        return self.p["activity_pressure"]

    def core_growth(self, year: int) -> float:
        """Cash growth of ICB core allocations in ``year``."""
        g = self._seed("core_allocation_growth", year)
        return self.p["funding_growth"] if g is None else g

    def provider_support(self, year: int, modelled_share: float) -> float:
        """Support to the modelled trusts, £m: the national figure x their share of sector income."""
        s = self._seed("provider_support", year)
        if s is None:
            # After the last published year, deficit support is phased out evenly over support_phaseout_years
            # ("phased out starting 2026/27, the first step of a gradual withdrawal": written ministerial statement
            # 25 Jun 2025; NHS England medium-term planning framework); before the first, there was none.
            years = self.data.funding.get("provider_support", {})
            if not years or year < min(years):
                return 0.0
            last = max(years)
            n = max(int(self.p["support_phaseout_years"]), 1)
            s = years[last] * max(0.0, 1.0 - (year - last) / n)
        return s * 1e3 * modelled_share

    def sector_income(self) -> float | None:
        """Trust sector income in the base year, £m (to share national support), or None."""
        v = self._seed("provider_sector_income", self.first_year)
        return None if v is None else v * 1e3
