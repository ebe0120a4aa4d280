"""Fit the two calibrated values of the money path, by running the model (step 4 of seeds/README.md).

Usage (from the repo root, with commissim installed):  python seeds/calibrate.py

It finds, jointly, the 2023-24 ``unfunded_cost_pressure`` (cost growth the tariff did not fund, as a share of
providers' costs) at which the modelled trusts' 2023-24 income-weighted margin equals the trust
sector's -0.9% of income (Nuffield Trust analysis of 2023-24 accounts; seeds/calibration.csv), and the
``activity_pressure`` (activity and case-mix growth beyond the services' trends) at which 2023-24 specialised spend
equals the month-9 forecast outturn of GBP 25.031bn (NHS England board, 1 Feb 2024), under the ``as_happened``
scenario with default parameters. It writes the first into seeds/funding.csv and the second as the default of
``activity_pressure`` in model/params.py. The fit is
deterministic (demand noise is 0 by default; cost dispersion draws are averaged over three seeds).
Nothing else in the seeds is fitted to the model's output: see the ``fitted_by`` column of
seeds/calibration.csv for what each calibration fact depends on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

SEEDS = Path(__file__).resolve().parent

TARGET_2023 = -0.009  # trust sector deficit 2023-24, share of income (Nuffield Trust, via parliamenttoday)
SEEDS_USED = (1, 2, 3)


TARGET_SPEND_2023 = 25.031  # GBP bn, month-9 forecast outturn 2023-24
ACTIVITY = {"value": 0.027}


def margin_2023(pressure: float, measure: str = "trust_sector_margin") -> float:
    from commissim.model import data as model_data
    from commissim.model.model import CommissioningModel

    rows = list(csv.DictReader((SEEDS / "funding.csv").open(encoding="utf-8")))
    for r in rows:
        if r["series"] == "unfunded_cost_pressure" and r["year"] == "2023":
            r["value"] = repr(round(float(pressure), 6))
        if r["series"] == "activity_pressure" and r["year"] == "2023":
            r["value"] = repr(round(float(ACTIVITY["value"]), 6))
    _write(rows)
    model_data._cached.cache_clear()  # fresh seed data, and with it fresh base-year worlds
    vals = []
    for seed in SEEDS_USED:
        m = CommissioningModel("as_happened", rng=seed, collect_agent_data=False, activity_pressure=ACTIVITY["value"])
        m.run(1)
        vals.append(m.measures[measure])
    return sum(vals) / len(vals)


def _write(rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writeheader()
    w.writerows(rows)
    (SEEDS / "funding.csv").write_text(buf.getvalue(), encoding="utf-8")


def _bisect(f, target: float, lo: float, hi: float, rising: bool) -> float:
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if (f(mid) < target) == rising:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main() -> None:
    pressure = 0.007
    for _ in range(3):  # the two targets barely interact: three alternations settle both to the rounding
        margin_2023(pressure)
        ACTIVITY["value"] = round(_bisect(lambda a: _spend(a, pressure), TARGET_SPEND_2023, 0.0, 0.05, True), 5)
        pressure = round(_bisect(margin_2023, TARGET_2023, -0.02, 0.04, False), 5)
    got = margin_2023(pressure)
    spend = margin_2023(pressure, "total_spend")
    _write_activity_default(ACTIVITY["value"])
    print(f"unfunded_cost_pressure 2023-24 = {pressure:.5f} (share of costs); modelled 2023-24 margin {got:.4%} "
          f"against the sector's {TARGET_2023:.1%}")
    print(f"activity_pressure = {ACTIVITY['value']:.5f} a year; modelled 2023-24 spend GBP {spend:.3f}bn against "
          f"GBP {TARGET_SPEND_2023}bn")


def _spend(activity: float, pressure: float) -> float:
    ACTIVITY["value"] = activity
    return margin_2023(pressure, "total_spend")


def _write_activity_default(value: float) -> None:
    import re

    path = SEEDS.parent / "model" / "params.py"
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r'_p\("activity_pressure", [0-9.e-]+,', f'_p("activity_pressure", {value},', text)
    if n != 1:
        raise SystemExit("model/params.py: the activity_pressure entry was not found")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
