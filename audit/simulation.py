"""Seeded simulation of contact-center survey audits with a known truth.

Question answered: *what would the survey export and the interaction log of a contact
center look like — with or without a named integrity problem — and what is the true
population value of the metric?* The simulator feeds the bundled sample audit, the
calibration tests (clean audits must pass) and the detection tests (planted flaws must be
found).

Data-generating model (all times UTC, whole seconds):

* Interactions arrive over ``days`` days with a weekly pattern (Sat 45 %, Sun 25 % of a
  weekday) and business hours 07-20 h. Each has an agent (unequal log-normal workloads),
  a channel (phone 45 %, chat 30 %, email 15 %, sms 10 %), a region (4 levels),
  ``resolved`` (Bernoulli, 82/78/66/72 % by channel), ``handle_time_s`` (log-normal, median
  420/540/900/300 s by channel, ×1.5 when unresolved, log-SD 0.55), ``repeat_contact``
  (6 % if resolved, 30 % if not) and a customer (about 1.35 interactions per customer).
* Latent satisfaction: cumulative-logit (proportional-odds) model, McCullagh (1980).
  ``y* = eta + e``, ``e ~ Logistic(0, 1)``, score = lo + #{cut-points below y*}, with
  ``eta = -1.0 + 1.3·resolved - 0.5·repeat_contact - 0.5·(ln handle_time - ln 500)
  + channel shift (phone +0.15, chat +0.25, email -0.35, sms -0.15) + agent effect``
  (agent effect ~ N(0, 0.15²): agents genuinely differ a little, which is not a flaw).
  Cut-points are the logits of F_k = (k/K)³, k = 1..K-1, K = number of scale points, i.e.
  at eta = 0 the score is a discretised Beta(3, 1) — the top-heavy shape of real CSAT.
* Clean survey process: invitation ~ Bernoulli(invite_rate) and, among the invited,
  response ~ Bernoulli(response_rate), both independent of everything (MCAR). Hence
  response rates do not differ by segment beyond chance, invited and non-invited
  interactions share one covariate distribution, and the respondent metric is unbiased.
* Responses: ``submitted_at = interaction_at + handle time + lag``, lag log-normal
  (median 0.5/0.25/4/1 h by channel, log-SD 1.0); ``duration_s`` log-normal with median
  75 s + 10 s per item (log-SD 0.35); items ``q_j`` use the respondent's own ``y*`` plus an
  item offset ~ N(-0.5, 0.7²) and item noise ~ N(0, 2.0²) on the same cut-points, so items
  correlate with the score but genuine respondents vary.

Flaws (:data:`FLAWS`) change only what they name; the base draws are made first and in a
fixed order, so the same seed with and without a flaw gives the same interactions.
Their sizes are documented on :func:`simulate_contact_center`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Collection

import numpy as np
import pandas as pd

FLAWS: tuple[str, ...] = (
    # population-level (engine issue)
    "selective_invitation",   # survey offered mostly after resolved/short calls
    "channel_skew",           # response rates differ strongly by channel
    "happy_respond_more",     # response probability rises with the customer's own satisfaction (MNAR)
    # response-level (award/fraud issue)
    "ballot_stuffing",        # a few customers rate one agent many times with top scores
    "copied_answers",         # blocks of near-identical q_* vectors (>= 85 % match) for one agent
    "burst",                  # many top-score responses for one agent within minutes
    "before_interaction",     # some responses timestamped before their interaction
    "straightlining",         # a share of respondents give the same answer to every q_* item
    "speeding",               # a share of respondents with implausibly short duration_s
    "begging_agent",          # one agent: selective offers + inflated top box + high response rate
)

METRICS: tuple[str, ...] = ("top2box", "mean", "nps")

CHANNELS: tuple[str, ...] = ("phone", "chat", "email", "sms")
_CHANNEL_SHARE = np.array([0.45, 0.30, 0.15, 0.10])
_CHANNEL_P_RESOLVED = np.array([0.82, 0.78, 0.66, 0.72])
_CHANNEL_HANDLE_MEDIAN_S = np.array([420.0, 540.0, 900.0, 300.0])
_CHANNEL_SCORE_SHIFT = np.array([0.15, 0.25, -0.35, -0.15])
_CHANNEL_LAG_MEDIAN_H = np.array([0.5, 0.25, 4.0, 1.0])
# channel_skew: response probability = response_rate × factor, i.e. 35/25/12/6 % at 0.3.
_CHANNEL_SKEW_FACTOR = np.array([12.0, 35.0, 25.0, 6.0]) / 30.0

REGIONS: tuple[str, ...] = ("North", "South", "East", "West")
_REGION_SHARE = np.array([0.35, 0.30, 0.20, 0.15])

_WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.0, 0.95, 0.9, 0.45, 0.25])   # Mon..Sun
_OPEN_HOUR = 7
_HOUR_WEIGHT = np.array([0.5, 0.8, 1.0, 1.0, 0.9, 0.8, 0.9, 1.0, 0.95, 0.8, 0.6, 0.45, 0.3])

_HANDLE_LOG_SD = 0.55
_UNRESOLVED_HANDLE_FACTOR = 1.5
_P_REPEAT = (0.06, 0.30)                       # (resolved, unresolved)
_INTERACTIONS_PER_CUSTOMER = 1.35
_ETA_INTERCEPT, _ETA_RESOLVED, _ETA_REPEAT, _ETA_LOG_HANDLE = -1.0, 1.3, -0.5, -0.5
_AGENT_EFFECT_SD = 0.15
_WORKLOAD_LOG_SD = 0.45
_BASELINE_BETA_A = 3.0                          # F_k = (k/K)^a
_LAG_LOG_SD = 1.0
_DURATION_BASE_S, _DURATION_PER_ITEM_S, _DURATION_LOG_SD = 75.0, 10.0, 0.35
_ITEM_OFFSET_MEAN, _ITEM_OFFSET_SD, _ITEM_NOISE_SD = -0.5, 0.7, 2.0

# Flaw strengths (documented on simulate_contact_center).
_SELECTIVE_RESOLVED_FACTOR = (4.0 / 3.0, 5.0 / 12.0)   # 0.8 vs 0.25 at invite_rate 0.6
_SELECTIVE_SHORT_FACTOR = (1.1, 0.9)                   # shorter / longer than channel median
_HAPPY_ODDS_PER_QUARTER_SCALE = 3.0                    # ×3 per point on a 1-5 scale
_BEGGING_INVITE_FACTOR = (1.5, 1.0 / 3.0)              # (resolved, unresolved) × invite_rate
_BEGGING_RESPONSE_ODDS = 4.0
_BEGGING_TOP_SHARE = 0.6
_STUFFERS, _STUFFED_PER_CUSTOMER = 3, (5, 8)
_BURST_WINDOW_S, _BURST_SHARE, _BURST_SIZE = 8 * 60, 0.006, (15, 30)
_COPY_SHARE, _COPY_SIZE, _COPY_CHANGED = 0.4, (10, 25), 0.3
_BEFORE_SHARE, _BEFORE_MIN = 0.01, 5
_BEFORE_LEAD_S = (10 * 60, 48 * 3600)
_STRAIGHTLINE_SHARE = 0.12
_SPEEDING_SHARE, _SPEEDING_FRACTION = 0.08, (0.08, 0.25)
_AGENT_FLAW_SLOT = {"ballot_stuffing": 0, "copied_answers": 1, "burst": 2, "begging_agent": 3}
_ITEM_FLAWS = ("copied_answers", "straightlining")


@dataclass(frozen=True)
class SimulatedAudit:
    """One simulated audit: the two input tables, the published claim and the truth.

    ``responses`` and ``population`` use the SPEC column names; ``claim`` is a SPEC claim
    dict of type ``level`` whose ``value`` is the published (unweighted respondent)
    figure rounded to 3 decimals; ``truth`` holds what an auditor cannot see (see
    :func:`simulate_contact_center`).
    """

    responses: pd.DataFrame
    population: pd.DataFrame
    claim: dict
    truth: dict


def metric_value(scores: np.ndarray, metric: str, scale: tuple[int, int]) -> float:
    """The SPEC headline metric of a set of scores.

    ``top2box`` = share of scores ≥ hi − 1 (proportion, 0-1); ``mean`` = mean score (scale
    units); ``nps`` = % of 9-10 minus % of 0-6 on a 0-10 scale (points, -100..100;
    Reichheld 2003). NaN for an empty set.
    """
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return float("nan")
    lo, hi = scale
    if metric == "top2box":
        return float(np.mean(s >= hi - 1))
    if metric == "mean":
        return float(np.mean(s))
    if metric == "nps":
        return float(100.0 * (np.mean(s >= 9) - np.mean(s <= 6)))
    raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _cut_points(n_points: int) -> np.ndarray:
    k = np.arange(1, n_points)
    return _logit((k / n_points) ** _BASELINE_BETA_A)


def _categorise(latent: np.ndarray, cuts: np.ndarray, lo: int) -> np.ndarray:
    return lo + np.searchsorted(cuts, latent, side="left").astype(np.int64)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.array([f"{prefix}{k:0{width}d}" for k in numbers.tolist()], dtype=object)


def _utc(seconds: np.ndarray) -> pd.Series | pd.DatetimeIndex:
    return pd.to_datetime(seconds, unit="s", utc=True)


def _calibrate_shift(base_logit: np.ndarray, slope_term: np.ndarray, target: float) -> float:
    """Intercept δ with mean(expit(base + slope_term + δ)) = target (bisection)."""
    low, high = -20.0, 20.0
    for _ in range(80):
        mid = 0.5 * (low + high)
        if np.mean(_expit(base_logit + slope_term + mid)) < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _validate(n_interactions: int, n_agents: int, scale: tuple[int, int], n_items: int,
              flaws: Collection[str], invite_rate: float, response_rate: float,
              days: int, metric: str) -> tuple[str, ...]:
    if isinstance(flaws, str):
        raise ValueError("flaws must be a collection of flaw names, not a single string")
    unknown = sorted(set(flaws) - set(FLAWS))
    if unknown:
        raise ValueError(f"unknown flaw(s) {unknown}; expected names from {FLAWS}")
    if n_interactions < 1 or n_agents < 1 or days < 1 or n_items < 0:
        raise ValueError("n_interactions, n_agents and days must be ≥ 1 and n_items ≥ 0")
    lo, hi = scale
    if int(lo) != lo or int(hi) != hi or hi - lo < 2:
        raise ValueError(f"scale must be two integers at least 2 apart, got {scale}")
    if not (0.0 < invite_rate <= 1.0 and 0.0 < response_rate <= 1.0):
        raise ValueError("invite_rate and response_rate must lie in (0, 1]")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    if metric == "nps" and tuple(scale) != (0, 10):
        raise ValueError("metric 'nps' needs scale (0, 10)")
    needs_items = [f for f in _ITEM_FLAWS if f in flaws]
    if needs_items and n_items < 3:
        raise ValueError(f"flaw(s) {needs_items} act on q_* items: pass n_items ≥ 3 (e.g. 10)")
    return tuple(f for f in FLAWS if f in set(flaws))


def simulate_contact_center(rng: np.random.Generator, *, n_interactions: int = 3000,
                            n_agents: int = 20, scale: tuple[int, int] = (1, 5),
                            n_items: int = 0, flaws: Collection[str] = (),
                            invite_rate: float = 0.6, response_rate: float = 0.3,
                            start: str = "2026-07-01", days: int = 92,
                            metric: str = "top2box") -> SimulatedAudit:
    """Simulate one contact-center survey audit with known truth.

    Question answered: what do the interaction log (``population``) and the survey export
    (``responses``) look like when the survey process is clean — or has the named flaws —
    and what is the true population metric? The model is described in the module
    docstring. Units: seconds, UTC timestamps, scores on ``scale``.

    Flaw sizes (each changes only what it names; any combination may be planted):

    * ``selective_invitation`` — invite probability = invite_rate × 4/3 if resolved, × 5/12
      if not (0.80 vs 0.25 at 0.6), × 1.1 if the handle time is below its channel's
      median and × 0.9 otherwise; clipped to [0, 1].
    * ``channel_skew`` — response probability among the invited = response_rate × 12/30,
      35/30, 25/30, 6/30 for phone, chat, email, sms (12/35/25/6 % at 0.3).
    * ``happy_respond_more`` — response log-odds rise by ln 3 per quarter of the scale
      range (odds ×3 per point on 1-5, ×3 per 2.5 points on 0-10) of the customer's own
      latent score; the intercept is re-solved so the overall response rate is unchanged
      (missing not at random).
    * ``ballot_stuffing`` — 3 customers give one agent 5-8 top-score responses each: the
      first re-uses one survey link (same ``interaction_id`` every time), the other two are
      new customer ids answering other customers' invitations of that agent.
    * ``copied_answers`` — 40 % (10 to 25) of one agent's genuine responses are replaced
      by copies of one good-but-not-uniform answer pattern with the top score; 30 % of the
      copies have one item changed by one point (at least two copies are exact, so every
      copy matches another on ≥ (K−1)/K of the K items: ≥ 0.9 for K = 10).
    * ``burst`` — 0.6 % of n_interactions (15 to 30) top-score responses for one agent
      submitted within 8 minutes, answering that agent's earlier unanswered invitations.
    * ``before_interaction`` — 1 % of responses (at least 5) get ``submitted_at`` 10 min to
      48 h (uniform) before their ``interaction_at``.
    * ``straightlining`` — 12 % of genuine respondents answer every ``q_*`` item with
      their score.
    * ``speeding`` — 8 % of genuine respondents get ``duration_s`` = 8-25 % (uniform) of
      the design median duration (the usual flag is < 30 % of the median).
    * ``begging_agent`` — one agent invites resolved interactions with probability
      invite_rate × 1.5 (max 0.95) and unresolved ones with × 1/3, multiplies response
      odds by 4, and 60 % of their respondents report the top score whatever their
      latent score.

    Agent-level flaws (stuffing, copies, burst, begging) each target a different agent,
    chosen at random from the busier half. ``truth`` keys:

    * ``population_metric`` — the ``metric`` over ALL interactions' latent scores;
      ``population_top2box``, ``population_mean``, ``population_nps`` (points; None unless
      the scale is 0-10); ``respondent_metric`` — the unrounded published figure;
    * ``latent_score`` — int array aligned with the rows of ``population``;
    * ``flaws`` (in :data:`FLAWS` order), ``flagged_agents`` (sorted), ``agents``
      {flaw: agent_id}, ``planted_rows`` {flaw: sorted response_ids of the responses the
      flaw made or altered; for ``begging_agent`` those whose score it raised},
      ``parameters`` {flaw: its sizes as realised}.

    ``metric`` (extension of the agreed API, default ``top2box``) selects the claim's metric.
    """
    flaw_set = _validate(n_interactions, n_agents, scale, n_items, flaws, invite_rate,
                         response_rate, days, metric)
    lo, hi = int(scale[0]), int(scale[1])
    n, n_points = int(n_interactions), hi - lo + 1
    cuts = _cut_points(n_points)

    # ---- base draws: fixed order and sizes, independent of the flaws -------------------
    start_s = int(pd.Timestamp(start, tz="UTC").value // 10**9)
    start_weekday = pd.Timestamp(start, tz="UTC").weekday()
    day_w = _WEEKDAY_WEIGHT[(start_weekday + np.arange(days)) % 7]
    day = rng.choice(days, size=n, p=day_w / day_w.sum())
    hour = _OPEN_HOUR + rng.choice(_HOUR_WEIGHT.size, size=n, p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
    t_interaction = np.sort(start_s + day * 86400 + hour * 3600 + rng.integers(0, 3600, size=n))

    workload = rng.lognormal(0.0, _WORKLOAD_LOG_SD, size=n_agents)
    agent_effect = rng.normal(0.0, _AGENT_EFFECT_SD, size=n_agents)
    agent = rng.choice(n_agents, size=n, p=workload / workload.sum())
    channel = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARE)
    resolved = (rng.random(n) < _CHANNEL_P_RESOLVED[channel]).astype(np.int64)
    log_handle = (np.log(_CHANNEL_HANDLE_MEDIAN_S[channel])
                  + np.log(_UNRESOLVED_HANDLE_FACTOR) * (1 - resolved)
                  + rng.normal(0.0, _HANDLE_LOG_SD, size=n))
    handle_time = np.round(np.exp(log_handle), 1)
    repeat = (rng.random(n) < np.where(resolved == 1, *_P_REPEAT)).astype(np.int64)
    n_customers = max(1, int(round(n / _INTERACTIONS_PER_CUSTOMER)))
    customer = rng.integers(0, n_customers, size=n)

    eta = (_ETA_INTERCEPT + _ETA_RESOLVED * resolved + _ETA_REPEAT * repeat
           + _ETA_LOG_HANDLE * (np.log(handle_time) - np.log(500.0))
           + _CHANNEL_SCORE_SHIFT[channel] + agent_effect[agent])
    latent = eta + rng.logistic(0.0, 1.0, size=n)
    latent_score = _categorise(latent, cuts, lo)

    u_invite = rng.random(n)
    u_respond = rng.random(n)
    lag = np.maximum(30, np.round(rng.lognormal(
        np.log(_CHANNEL_LAG_MEDIAN_H[channel] * 3600.0), _LAG_LOG_SD))).astype(np.int64)
    median_duration = _DURATION_BASE_S + _DURATION_PER_ITEM_S * n_items
    duration = np.round(rng.lognormal(np.log(median_duration), _DURATION_LOG_SD, size=n), 1)
    item_offset = rng.normal(_ITEM_OFFSET_MEAN, _ITEM_OFFSET_SD, size=n_items)
    item_noise = rng.normal(0.0, _ITEM_NOISE_SD, size=(n, n_items))
    flaw_rng = {name: np.random.default_rng(seed)
                for name, seed in zip(FLAWS, rng.integers(0, 2**63 - 1, size=len(FLAWS)))}
    busy = np.argsort(-workload, kind="stable")[: max(1, (n_agents + 1) // 2)]
    candidates = rng.permutation(busy)
    target = {f: int(candidates[slot % candidates.size]) for f, slot in _AGENT_FLAW_SLOT.items()}
    t_end = t_interaction + np.round(handle_time).astype(np.int64)
    # Ballot stuffing can add a few responses beyond one per interaction.
    id_width = max(6, len(str(n + _STUFFERS * _STUFFED_PER_CUSTOMER[1])))

    parameters: dict[str, Any] = {}
    # ---- invitation ---------------------------------------------------------------------
    p_invite = np.full(n, float(invite_rate))
    if "selective_invitation" in flaw_set:
        short = handle_time < _CHANNEL_HANDLE_MEDIAN_S[channel]
        p_invite = p_invite * np.where(resolved == 1, *_SELECTIVE_RESOLVED_FACTOR) \
            * np.where(short, *_SELECTIVE_SHORT_FACTOR)
        parameters["selective_invitation"] = {
            "invite_factor_resolved": _SELECTIVE_RESOLVED_FACTOR[0],
            "invite_factor_unresolved": _SELECTIVE_RESOLVED_FACTOR[1],
            "invite_factor_short": _SELECTIVE_SHORT_FACTOR[0],
            "invite_factor_long": _SELECTIVE_SHORT_FACTOR[1]}
    if "begging_agent" in flaw_set:
        mine = agent == target["begging_agent"]
        p_invite = np.where(mine, np.where(resolved == 1,
                                           min(0.95, invite_rate * _BEGGING_INVITE_FACTOR[0]),
                                           invite_rate * _BEGGING_INVITE_FACTOR[1]), p_invite)
    invited = u_invite < np.clip(p_invite, 0.0, 1.0)

    # ---- response among the invited ------------------------------------------------------
    p_base = np.full(n, float(response_rate))
    if "channel_skew" in flaw_set:
        p_base = np.minimum(p_base * _CHANNEL_SKEW_FACTOR[channel], 0.99)
        parameters["channel_skew"] = {
            "response_rate_by_channel": dict(zip(CHANNELS, np.minimum(
                response_rate * _CHANNEL_SKEW_FACTOR, 0.99).round(6).tolist()))}
    base_logit = _logit(np.clip(p_base, 1e-9, 1 - 1e-9))
    logit_respond = base_logit
    if "happy_respond_more" in flaw_set:
        # math.log, not numpy's: numpy's AVX-512 log differs in the last bit, and the answer key
        # (sample_data/*/truth.json) must not depend on the machine that writes it
        slope = math.log(_HAPPY_ODDS_PER_QUARTER_SCALE) * 4.0 / (hi - lo)
        term = slope * (latent_score - latent_score.mean())
        shift = _calibrate_shift(base_logit, term, float(np.mean(_expit(base_logit))))
        logit_respond = base_logit + term + shift
        parameters["happy_respond_more"] = {"log_odds_per_scale_point": float(slope),
                                            "odds_ratio_per_scale_point": math.exp(slope)}
    if "begging_agent" in flaw_set:
        logit_respond = logit_respond + np.log(_BEGGING_RESPONSE_ODDS) * (agent == target["begging_agent"])
    responded = invited & (u_respond < _expit(logit_respond))

    # ---- genuine responses ----------------------------------------------------------------
    row = np.flatnonzero(responded)
    chunks = [{
        "row": row, "customer": customer[row], "submitted": t_end[row] + lag[row],
        "duration": duration[row], "score": latent_score[row].copy(),
        "latent": latent[row], "noise": item_noise[row], "fabricated": np.zeros(row.size, bool)}]
    planted: dict[str, np.ndarray] = {}   # flaw -> positions in the concatenated responses

    if "begging_agent" in flaw_set:
        g = flaw_rng["begging_agent"]
        c = chunks[0]
        bump = (agent[c["row"]] == target["begging_agent"]) & (g.random(c["row"].size) < _BEGGING_TOP_SHARE)
        changed = bump & (c["score"] != hi)
        c["score"] = np.where(bump, hi, c["score"])
        planted["begging_agent"] = np.flatnonzero(changed)
        parameters["begging_agent"] = {
            "invite_rate_resolved": round(min(0.95, invite_rate * _BEGGING_INVITE_FACTOR[0]), 6),
            "invite_rate_unresolved": round(invite_rate * _BEGGING_INVITE_FACTOR[1], 6),
            "response_odds_ratio": _BEGGING_RESPONSE_ODDS, "top_score_share": _BEGGING_TOP_SHARE}

    def fabricated_chunk(rows: np.ndarray, cust: np.ndarray, submitted: np.ndarray,
                         g: np.random.Generator) -> dict[str, np.ndarray]:
        # A made-up response looks like a delighted genuine one: top score, items from
        # a latent value above the top cut-point, ordinary completion time.
        m = rows.size
        return {"row": rows, "customer": cust, "submitted": submitted,
                "duration": np.round(g.lognormal(np.log(median_duration), _DURATION_LOG_SD, size=m), 1),
                "score": np.full(m, hi, dtype=np.int64),
                "latent": cuts[-1] + g.exponential(1.0, size=m),
                "noise": g.normal(0.0, _ITEM_NOISE_SD, size=(m, n_items)),
                "fabricated": np.ones(m, bool)}

    def unanswered_of(a: int, g: np.random.Generator, before_s: int | None = None,
                      recent_s: int | None = None) -> np.ndarray:
        # The agent's unanswered interactions in random order: unanswered invitations
        # first, uninvited ones only when those run out (and recent ones first if asked).
        ok = (agent == a) & ~responded
        if before_s is not None:
            ok &= t_end < before_s
        recent = np.ones(n, bool) if recent_s is None else t_end >= recent_s
        groups = (ok & invited & recent, ok & ~invited & recent,
                  ok & invited & ~recent, ok & ~invited & ~recent)
        return np.concatenate([g.permutation(np.flatnonzero(grp)) for grp in groups])

    offset = row.size
    if "ballot_stuffing" in flaw_set:
        g, a = flaw_rng["ballot_stuffing"], target["ballot_stuffing"]
        sizes = g.integers(_STUFFED_PER_CUSTOMER[0], _STUFFED_PER_CUSTOMER[1] + 1, size=_STUFFERS)
        pool = unanswered_of(a, g)
        if pool.size:
            others = pool[1: 1 + int(sizes[1:].sum())]
            sizes[1:] = np.diff(np.minimum(np.concatenate([[0], np.cumsum(sizes[1:])]), others.size))
            rows = np.concatenate([np.full(sizes[0], pool[0]), others])
            cust = np.concatenate([np.full(sizes[0], customer[pool[0]]),
                                   np.repeat(n_customers + np.arange(_STUFFERS - 1), sizes[1:])])
            hours = g.lognormal(np.log(2.0), 1.0, size=rows.size)
            submitted = t_end[rows] + np.round(hours * 3600).astype(np.int64)
            chunks.append(fabricated_chunk(rows, cust, submitted, g))
            invited[rows] = True
            responded[rows] = True
            planted["ballot_stuffing"] = offset + np.arange(rows.size)
            offset += rows.size
            parameters["ballot_stuffing"] = {
                "customers": _STUFFERS, "responses_per_customer": sizes.tolist(),
                "reused_interaction_id": str(_ids("I", np.array([pool[0] + 1]), id_width)[0])}
    if "burst" in flaw_set:
        g, a = flaw_rng["burst"], target["burst"]
        t0 = int(start_s + g.uniform(0.6, 0.95) * days * 86400)
        size = int(np.clip(round(_BURST_SHARE * n), *_BURST_SIZE))
        rows = unanswered_of(a, g, before_s=t0, recent_s=t0 - 30 * 86400)[:size]
        submitted = t0 + np.sort(g.integers(0, _BURST_WINDOW_S + 1, size=rows.size))
        chunks.append(fabricated_chunk(rows, customer[rows], submitted, g))
        invited[rows] = True
        responded[rows] = True
        planted["burst"] = offset + np.arange(rows.size)
        offset += rows.size
        parameters["burst"] = {"start": pd.Timestamp(t0, unit="s", tz="UTC").isoformat(),
                               "window_s": _BURST_WINDOW_S, "responses": int(rows.size)}

    r = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    m = r["row"].size
    genuine = np.flatnonzero(~r["fabricated"])

    copied_items = np.zeros((0, n_items), dtype=np.int64)
    if "copied_answers" in flaw_set:
        g, a = flaw_rng["copied_answers"], target["copied_answers"]
        mine = genuine[agent[r["row"][genuine]] == a]
        size = int(min(mine.size, np.clip(round(_COPY_SHARE * mine.size), *_COPY_SIZE)))
        chosen = np.sort(g.choice(mine, size=size, replace=False))
        # The template is an ordinary-looking good answer (latent value near the top
        # cut-point), not the all-top pattern that genuine respondents share anyway.
        template = _categorise(cuts[-1] + g.normal(0.0, 0.5) + item_offset
                               + g.normal(0.0, _ITEM_NOISE_SD, size=n_items), cuts, lo)
        if np.unique(template).size == 1:
            j = g.choice(n_items, size=2, replace=False)
            template[j] = template[j] - 1 if template[0] > lo else template[j] + 1
        copied_items = np.tile(template, (size, 1))
        changed = g.random(size) < _COPY_CHANGED
        changed[:2] = False
        for i in np.flatnonzero(changed):
            j = g.integers(n_items)
            copied_items[i, j] += -1 if copied_items[i, j] > lo else 1
        r["score"][chosen] = hi
        planted["copied_answers"] = chosen
        parameters["copied_answers"] = {"template": template.tolist(), "copies": size,
                                        "copies_with_one_item_changed": int(changed.sum())}

    items = _categorise(r["latent"][:, None] + item_offset[None, :] + r["noise"], cuts, lo)
    if "copied_answers" in flaw_set:
        items[planted["copied_answers"]] = copied_items

    if "before_interaction" in flaw_set:
        g = flaw_rng["before_interaction"]
        size = int(min(genuine.size, max(_BEFORE_MIN, round(_BEFORE_SHARE * m))))
        chosen = np.sort(g.choice(genuine, size=size, replace=False))
        lead = g.integers(_BEFORE_LEAD_S[0], _BEFORE_LEAD_S[1] + 1, size=size)
        r["submitted"][chosen] = t_interaction[r["row"][chosen]] - lead
        planted["before_interaction"] = chosen
        parameters["before_interaction"] = {"rows": size, "lead_s_range": list(_BEFORE_LEAD_S)}
    if "straightlining" in flaw_set:
        g = flaw_rng["straightlining"]
        size = int(round(_STRAIGHTLINE_SHARE * genuine.size))
        chosen = np.sort(g.choice(genuine, size=size, replace=False))
        items[chosen] = r["score"][chosen][:, None]
        planted["straightlining"] = chosen
        parameters["straightlining"] = {"share_of_genuine": _STRAIGHTLINE_SHARE, "rows": size}
    if "speeding" in flaw_set:
        g = flaw_rng["speeding"]
        size = int(round(_SPEEDING_SHARE * genuine.size))
        chosen = np.sort(g.choice(genuine, size=size, replace=False))
        r["duration"][chosen] = np.round(g.uniform(*_SPEEDING_FRACTION, size=size) * median_duration, 1)
        planted["speeding"] = chosen
        parameters["speeding"] = {"share_of_genuine": _SPEEDING_SHARE, "rows": size,
                                  "fraction_of_median": list(_SPEEDING_FRACTION),
                                  "median_duration_s": median_duration}

    # ---- assemble tables ---------------------------------------------------------------
    # Exports list responses in submission order; response ids follow that order.
    order = np.lexsort((r["row"], r["submitted"]))
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    agent_width = max(2, len(str(n_agents)))
    agent_ids = _ids("A", np.arange(1, n_agents + 1), agent_width)
    interaction_ids = _ids("I", np.arange(1, n + 1), id_width)
    response_ids = _ids("R", np.arange(1, m + 1), id_width)

    channel_names = np.array(CHANNELS, dtype=object)
    region_names = np.array(REGIONS, dtype=object)
    population = pd.DataFrame({
        "interaction_id": interaction_ids, "agent_id": agent_ids[agent],
        "channel": channel_names[channel], "region": region_names[region],
        "resolved": resolved, "handle_time_s": handle_time, "repeat_contact": repeat,
        "interaction_at": _utc(t_interaction),
        "invited": invited.astype(np.int64), "responded": responded.astype(np.int64)})
    rr = r["row"][order]
    data: dict[str, Any] = {
        "response_id": response_ids, "interaction_id": interaction_ids[rr],
        "customer_id": _ids("C", r["customer"][order] + 1, max(6, len(str(n_customers + _STUFFERS)))),
        "agent_id": agent_ids[agent[rr]], "channel": channel_names[channel[rr]],
        "region": region_names[region[rr]], "submitted_at": _utc(r["submitted"][order]),
        "interaction_at": _utc(t_interaction[rr]), "duration_s": r["duration"][order],
        "score": r["score"][order]}
    for j in range(n_items):
        data[f"q_{j + 1}"] = items[order, j]
    responses = pd.DataFrame(data)
    if "ballot_stuffing" in planted:
        stuffers = responses["customer_id"].to_numpy()[rank[planted["ballot_stuffing"]]]
        parameters["ballot_stuffing"]["customer_ids"] = sorted(set(stuffers.tolist()))

    published = metric_value(responses["score"].to_numpy(), metric, (lo, hi))
    nps_scale = (lo, hi) == (0, 10)
    truth: dict[str, Any] = {
        "population_metric": metric_value(latent_score, metric, (lo, hi)),
        "population_top2box": metric_value(latent_score, "top2box", (lo, hi)),
        "population_mean": metric_value(latent_score, "mean", (lo, hi)),
        "population_nps": metric_value(latent_score, "nps", (lo, hi)) if nps_scale else None,
        "respondent_metric": published,
        "latent_score": latent_score,
        "flaws": list(flaw_set),
        "agents": {f: str(agent_ids[target[f]]) for f in _AGENT_FLAW_SLOT if f in flaw_set},
        "planted_rows": {f: sorted(response_ids[rank[pos]].tolist()) for f, pos in planted.items()},
        "parameters": parameters,
    }
    truth["flagged_agents"] = sorted(set(truth["agents"].values()))
    label = {"top2box": "satisfied (top-2 box)", "mean": "mean score", "nps": "NPS"}[metric]
    claim = {"title": f"Customer satisfaction: {label} {published:.3f}" if np.isfinite(published)
             else "Customer satisfaction", "type": "level", "metric": metric,
             "scale": [lo, hi],
             "value": round(published, 3) if np.isfinite(published) else None}
    return SimulatedAudit(responses=responses, population=population, claim=claim, truth=truth)


# ---- free-text comments ----------------------------------------------------------------------
_PRAISE = ("Quick and friendly.", "Sorted my problem first time.", "Very helpful, thank you!", "Great service.",
           "Clear answers and no waiting.")
_SO_SO = ("It was OK.", "Took a while but got there.", "Fine, nothing special.")
_COMPLAINTS = ("Waited far too long.", "Still not fixed.", "I had to explain everything twice.",
               "Nobody called me back.")
_ASIDES = ("", " The app kept logging me out.", " Billing was confusing.", " Would recommend.",
           " The hold music was too loud.", " Please improve the website.")
_CONTACTS = (" Please call me back on {phone}.", " You can reach me at {email}.",
             " My number is {phone}, or e-mail {email}.")
# Numbers and domains reserved for fiction and documentation: Ofcom's drama ranges (020 7946 0xxx,
# 07700 900xxx), NANP 555-01xx, and RFC 2606's example domains.
_PHONES = ("020 7946 0{:03d}", "07700 900{:03d}", "+44 7700 900{:03d}", "(202) 555-01{:02d}")
_FIRST = ("alex", "sam", "maria", "chen", "fatima", "jonas", "priya", "lucas")
_LAST = ("smith", "garcia", "mueller", "okafor", "tanaka", "rossi", "novak", "kaur")
_DOMAINS = ("example.com", "example.org", "example.net")


def free_text_comments(scores: np.ndarray, rng: np.random.Generator, *, scale: tuple[int, int],
                       share: float = 0.15, contact_share: float = 0.1) -> np.ndarray:
    """What a survey's "any other comments?" box holds: for a `share` of respondents a short
    sentence that fits their score (praise in the top two points, complaints in the bottom
    two), and in a `contact_share` of those a fictitious phone number or e-mail address
    (personal data an export must not spread, see `audit.pii`). None for no comment.

    Draws only from `rng`, so it can be added to a simulated audit without changing it."""
    lo, hi = scale
    n = len(scores)
    out = np.full(n, None, dtype=object)
    for i in np.flatnonzero(rng.random(n) < share):
        score = scores[i]
        pool = _PRAISE if score >= hi - 1 else _COMPLAINTS if score <= lo + 1 else _SO_SO
        text = pool[rng.integers(len(pool))] + _ASIDES[rng.integers(len(_ASIDES))]
        if rng.random() < contact_share:
            phone = _PHONES[rng.integers(len(_PHONES))]
            email = (f"{_FIRST[rng.integers(len(_FIRST))]}.{_LAST[rng.integers(len(_LAST))]}"
                     f"{rng.integers(10, 100)}@{_DOMAINS[rng.integers(len(_DOMAINS))]}")
            text += _CONTACTS[rng.integers(len(_CONTACTS))].format(
                phone=phone.format(rng.integers(1000 if "{:03d}" in phone else 100)), email=email)
        out[i] = text
    return out
