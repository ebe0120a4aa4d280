"""Fit the one calibrated value of the money path, by running the model (step 4 of seeds/README.md).

Usage (from the repo root, with commissim installed):  python seeds/calibrate.py

It finds the 2023-24 ``unfunded_cost_pressure`` (cost growth the tariff did not fund, as a share of
providers' costs) at which the modelled trusts' 2023-24 income-weighted margin equals the trust
sector's -0.9% of income (Nuffield Trust analysis of 2023-24 accounts; seeds/calibration.csv), under
the ``as_happened`` scenario with default parameters, and writes it into seeds/funding.csv. The fit is
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


def margin_2023(pressure: float) -> float:
    from commissim.model import data as model_data
    from commissim.model.model import CommissioningModel

    rows = list(csv.DictReader((SEEDS / "funding.csv").open(encoding="utf-8")))
    for r in rows:
        if r["series"] == "unfunded_cost_pressure" and r["year"] == "2023":
            r["value"] = repr(round(float(pressure), 6))
    _write(rows)
    model_data._cached.cache_clear()  # fresh seed data, and with it fresh base-year worlds
    vals = []
    for seed in SEEDS_USED:
        m = CommissioningModel("as_happened", rng=seed, collect_agent_data=False)
        m.run(1)
        vals.append(m.measures["trust_sector_margin"])
    return sum(vals) / len(vals)


def _write(rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writeheader()
    w.writerows(rows)
    (SEEDS / "funding.csv").write_text(buf.getvalue(), encoding="utf-8")


def main() -> None:
    lo, hi = -0.02, 0.04
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if margin_2023(mid) > TARGET_2023:
            lo = mid
        else:
            hi = mid
    value = round(0.5 * (lo + hi), 5)
    got = margin_2023(value)
    print(f"unfunded_cost_pressure 2023-24 = {value:.5f} (share of costs); modelled 2023-24 margin {got:.4%} "
          f"against the sector's {TARGET_2023:.1%}")


if __name__ == "__main__":
    main()
