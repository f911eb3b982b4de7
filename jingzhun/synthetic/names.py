"""Realistic Chinese personal names for the synthetic population.

Surnames follow the published frequency ranking of Chinese surnames (top 100 with approximate
shares in per cent, plus rarer and polyphonic surnames and a few compound ones); given names
mix a weighted list of very common names (so that 王伟, 张伟, 李娜 … recur at realistic rates)
with combinations from gendered character pools. Sampling is vectorised; this module must never
loop per person.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Approximate share (%) of the population, national ranking.
_SURNAME_SHARES = """
王7.12 李7.09 张6.74 刘5.39 陈4.53 杨3.08 黄2.23 赵2.29 吴2.05 周2.00 徐1.67 孙1.54 马1.44 朱1.42
胡1.31 郭1.26 何1.20 高1.17 林1.16 罗1.04 郑0.97 梁0.93 谢0.84 宋0.81 唐0.80 许0.76 韩0.75 冯0.72
邓0.72 曹0.69 彭0.67 曾0.64 肖0.63 田0.62 董0.60 袁0.57 潘0.56 于0.55 蒋0.55 蔡0.54 余0.53 杜0.51
叶0.50 程0.49 苏0.47 魏0.46 吕0.46 丁0.45 任0.44 沈0.43 姚0.42 卢0.41 姜0.40 崔0.39 钟0.38 谭0.37
陆0.36 汪0.35 范0.34 金0.33 石0.32 廖0.31 贾0.30 夏0.29 韦0.28 付0.27 方0.27 白0.26 邹0.26 孟0.25
熊0.25 秦0.24 邱0.24 江0.23 尹0.23 薛0.22 闫0.22 段0.21 雷0.21 侯0.20 龙0.20 史0.19 陶0.19 黎0.18
贺0.18 顾0.17 毛0.17 郝0.16 龚0.16 邵0.15 万0.15 钱0.14 严0.14 覃0.13 武0.13 戴0.13 莫0.12 孔0.12
向0.12 汤0.11 常0.10 温0.10 康0.10 施0.09 文0.09 牛0.09 樊0.09 葛0.09 邢0.08 安0.08 齐0.08 易0.08
乔0.08 伍0.08 庞0.07 颜0.07 倪0.07 庄0.07 聂0.07 章0.07 鲁0.06 岳0.06 翟0.06 殷0.06 詹0.06 申0.06
欧0.05 耿0.05 关0.05 兰0.05 焦0.05 俞0.05 左0.05 柳0.05 甘0.05 祝0.05 包0.04 宁0.04 尚0.04 符0.04
舒0.04 阮0.04 柯0.04 纪0.04 梅0.04 童0.04 凌0.04 毕0.04 单0.03 解0.02 仇0.02 区0.01 查0.02 朴0.02
欧阳0.03 司马0.005 诸葛0.003 上官0.005 司徒0.004
"""


def _parse_shares(text: str) -> tuple[list[str], np.ndarray]:
    """Parse "王7.12 李7.09 …" into names and normalised probabilities."""
    names, shares = [], []
    for token in text.split():
        split = next(i for i, ch in enumerate(token) if ch.isdigit())
        names.append(token[:split])
        shares.append(float(token[split:]))
    weights = np.asarray(shares)
    return names, weights / weights.sum()


SURNAMES, SURNAME_WEIGHTS = _parse_shares(_SURNAME_SHARES)

# Very common full given names with relative weights; they make same-name people frequent.
_COMMON_MALE = (
    "伟40 强18 磊18 军16 勇15 杰14 涛13 斌12 超12 明11 刚10 平9 辉9 鹏9 华9 飞8 鑫8 波8 宇8 浩7 凯7 健7 俊7 "
    "帆6 建华6 建国6 建军6 志强6 志明5 国强5 海涛5 晓东5 文杰5 子豪4 浩然4 宇轩4 俊杰4"
)
_COMMON_FEMALE = (
    "芳35 娜30 敏25 静25 丽20 艳18 娟16 霞15 秀英15 玲13 桂英12 丹12 萍11 红11 婷11 雪10 琳9 洁9 颖9 倩8 慧8 "
    "燕8 玉兰7 秀兰7 丽娟6 海燕6 晓燕6 欣怡5 诗涵5 雨涵5 梓涵4 思雨4"
)

# Character pools for the long tail of two-character given names.
_MALE_FIRST = "志建国海晓文俊子宇浩明永德振家嘉天思立成世鸿正宏佳少伟一"
_MALE_SECOND = "强明华军杰伟峰涛林斌辉鹏飞龙超波宇轩豪然博文东平刚勇成亮坤磊鑫帆凯诚"
_FEMALE_FIRST = "秀桂玉丽晓海雪梦思雨欣佳嘉若诗梓美文淑慧春晨可一紫"
_FEMALE_SECOND = "英兰芳娟华燕萍红霞梅琴敏静婷丽洁颖怡涵琳倩璐蕾菲妍彤雯悦欣娜莉"

COMMON_SHARE = 0.12  # share of people carrying one of the very common given names (伟 ≈ 0.5% of men)
SINGLE_SHARE = 0.08  # share of the long tail with a single-character given name


def _given_pool(common: str, first: str, second: str) -> tuple[list[str], np.ndarray]:
    """All given names of one gender with their sampling probabilities."""
    names, common_p = _parse_shares(common)
    singles = [c for c in second if c not in names]
    pairs = [a + b for a in first for b in second if a != b and a + b not in names]
    tail_p = np.concatenate(
        [np.full(len(singles), SINGLE_SHARE / len(singles)), np.full(len(pairs), (1 - SINGLE_SHARE) / len(pairs))]
    )
    probs = np.concatenate([common_p * COMMON_SHARE, tail_p * (1 - COMMON_SHARE)])
    return names + singles + pairs, probs / probs.sum()


_MALE_GIVEN, _MALE_P = _given_pool(_COMMON_MALE, _MALE_FIRST, _MALE_SECOND)
_FEMALE_GIVEN, _FEMALE_P = _given_pool(_COMMON_FEMALE, _FEMALE_FIRST, _FEMALE_SECOND)
_GIVEN = pl.Series(_MALE_GIVEN + _FEMALE_GIVEN, dtype=pl.Utf8)
_SURNAME_SERIES = pl.Series(SURNAMES, dtype=pl.Utf8)


def sample_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into SURNAMES."""
    return rng.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS)


def sample_given(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Indices into the combined given-name pool, drawn from the pool of each person's gender."""
    idx = rng.choice(len(_FEMALE_GIVEN), size=male.size, p=_FEMALE_P) + len(_MALE_GIVEN)
    n_male = int(male.sum())
    idx[male] = rng.choice(len(_MALE_GIVEN), size=n_male, p=_MALE_P)
    return idx


def surname_text(idx: np.ndarray) -> pl.Series:
    return _SURNAME_SERIES.gather(idx)


def full_names(surname_idx: np.ndarray, given_idx: np.ndarray) -> pl.Series:
    return _SURNAME_SERIES.gather(surname_idx) + _GIVEN.gather(given_idx)
