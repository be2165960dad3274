"""Regenerate the bundled sample audit (``sample_data/``) deterministically.

Run from the repository root::

    python -m sample_data.generate        # or: python sample_data/generate.py

It rewrites ``sample_data/contact_center/`` (a flawed Q3 2026 survey: every problem the
auditor looks for is planted, with its answer key in ``truth.json``), ``sample_data/clean/``
(the same contact center with a clean survey process) and ``sample_data/README.md``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
if str(ROOT.parent) not in sys.path:       # allow `python sample_data/generate.py`
    sys.path.insert(0, str(ROOT.parent))

from audit.simulation import SimulatedAudit, free_text_comments, metric_value, simulate_contact_center  # noqa: E402

SEED = 20260920
SIZE: dict[str, Any] = {"n_interactions": 20_000, "n_agents": 40, "scale": (1, 5),
                        "n_items": 10, "start": "2026-07-01", "days": 92}
SAMPLE_FLAWS: tuple[str, ...] = (
    "selective_invitation", "channel_skew", "happy_respond_more", "ballot_stuffing",
    "burst", "before_interaction", "straightlining", "speeding", "begging_agent")
PERIOD_BEFORE, PERIOD_AFTER = "2026-08", "2026-09"
COMMENT_STREAM = 1          # the comments' own random stream: the simulated audit is drawn without them


def _utc_text(times: pd.Series, unit: str) -> np.ndarray:
    # numpy formats naive UTC datetimes ~50× faster than Series.dt.strftime.
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    return np.datetime_as_string(naive, unit=unit)


def build_audits() -> dict[str, SimulatedAudit]:
    """The two sample audits, ``contact_center`` (flawed) and ``clean``, with a ``month``
    column ("YYYY-MM" of ``interaction_at``) added to both tables of each, and a free-text
    ``comment`` column (some with a phone number or e-mail address) to the flawed survey."""
    audits = {
        "contact_center": simulate_contact_center(np.random.default_rng(SEED), flaws=SAMPLE_FLAWS, **SIZE),
        "clean": simulate_contact_center(np.random.default_rng(SEED), **SIZE),
    }
    for audit in audits.values():
        for table in (audit.responses, audit.population):
            table["month"] = _utc_text(table["interaction_at"], "M")
    flawed = audits["contact_center"].responses
    flawed["comment"] = free_text_comments(flawed["score"].to_numpy(), np.random.default_rng([SEED, COMMENT_STREAM]),
                                           scale=SIZE["scale"])
    return audits


def _top2box(responses: pd.DataFrame) -> float:
    return metric_value(responses["score"].to_numpy(), "top2box", SIZE["scale"])


def level_claim(audit: SimulatedAudit) -> dict[str, Any]:
    """The published headline: unweighted respondent top-2-box share, 3 decimals."""
    value = round(_top2box(audit.responses), 3)
    return {"title": f"CSAT Q3 2026: {100 * value:.0f} % of customers satisfied",
            "type": "level", "metric": "top2box", "scale": list(SIZE["scale"]), "value": value}


def award_winner(audit: SimulatedAudit) -> str:
    """Agent with the highest raw top-2-box share among agents with ≥ 1 response.

    Ties go to the begging agent if it is among them, else to the agent with more
    responses (a 100 % from 58 surveys outranks a 100 % from 20), then to the lower id.
    """
    by_agent = (audit.responses.assign(top=audit.responses["score"] >= SIZE["scale"][1] - 1)
                .groupby("agent_id")["top"].agg(["mean", "size"]))
    best = by_agent[by_agent["mean"] == by_agent["mean"].max()]
    begging = audit.truth["agents"].get("begging_agent")
    if begging in best.index:
        return str(begging)
    return str(best.sort_values("size", ascending=False, kind="stable").index[0])


def award_claim(audit: SimulatedAudit) -> dict[str, Any]:
    """The "Customer Service Champion" award for the raw top-2-box winner."""
    unit = award_winner(audit)
    mine = audit.responses[audit.responses["agent_id"] == unit]
    return {"title": f"Agent {unit} - Customer Service Champion, Q3 2026", "type": "best_unit",
            "metric": "top2box", "scale": list(SIZE["scale"]), "value": round(_top2box(mine), 3),
            "unit_column": "agent_id", "unit": unit}


def change_claim(audit: SimulatedAudit) -> dict[str, Any]:
    """The month-on-month headline; ``value`` is the published change (after − before)."""
    month = audit.responses["month"]
    before = _top2box(audit.responses[month == PERIOD_BEFORE])
    after = _top2box(audit.responses[month == PERIOD_AFTER])
    change = round(after - before, 3)
    direction = "up" if change >= 0 else "down"
    return {"title": f"CSAT {direction} {abs(100 * change):.1f} points from August to September 2026",
            "type": "change", "metric": "top2box", "scale": list(SIZE["scale"]), "value": change,
            "period_column": "month", "before": PERIOD_BEFORE, "after": PERIOD_AFTER}


def truth_record(audit: SimulatedAudit) -> dict[str, Any]:
    """The answer key as JSON-able data (the per-interaction latent scores are left out)."""
    keep = ("population_metric", "population_top2box", "population_mean", "respondent_metric",
            "flaws", "flagged_agents", "agents", "planted_rows", "parameters")
    return {key: audit.truth[key] for key in keep}


def _csv(table: pd.DataFrame) -> bytes:
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = np.char.add(_utc_text(out[column], "s"), "Z")  # ISO 8601, UTC
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def render_files() -> dict[str, bytes]:
    """Every generated file: path relative to ``sample_data/`` → exact bytes."""
    audits = build_audits()
    flawed, clean = audits["contact_center"], audits["clean"]
    files = {
        "contact_center/responses.csv": _csv(flawed.responses),
        "contact_center/interactions.csv": _csv(flawed.population),
        "contact_center/claim.json": _json(level_claim(flawed)),
        "contact_center/claim_award.json": _json(award_claim(flawed)),
        "contact_center/claim_change.json": _json(change_claim(flawed)),
        "contact_center/truth.json": _json(truth_record(flawed)),
        "clean/responses.csv": _csv(clean.responses),
        "clean/interactions.csv": _csv(clean.population),
        "clean/claim.json": _json(level_claim(clean)),
        "clean/truth.json": _json(truth_record(clean)),
    }
    files["README.md"] = render_readme(flawed, clean).encode("utf-8")
    return files


def _response_rate(interactions: pd.DataFrame) -> float:
    return interactions["responded"].sum() / max(1, interactions["invited"].sum())


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_readme(flawed: SimulatedAudit, clean: SimulatedAudit) -> str:
    """``sample_data/README.md``: the files, and every planted problem with its size and place."""
    t, p = flawed.truth, flawed.truth["parameters"]
    rows = {f: len(ids) for f, ids in t["planted_rows"].items()}
    agents = t["agents"]
    claim, award, change = level_claim(flawed), award_claim(flawed), change_claim(flawed)
    pop = flawed.population
    beg = pop[pop["agent_id"] == agents["begging_agent"]]
    others = pop[pop["agent_id"] != agents["begging_agent"]]
    stuffing = p["ballot_stuffing"]
    q_cols = [c for c in clean.responses.columns if c.startswith("q_")]
    q = clean.responses[q_cols].to_numpy()
    clean_straight = float(np.mean((q == q[:, :1]).all(axis=1)))
    lines = [
        "# Bundled sample audit",
        "",
        "Simulated contact-center data with a known truth, produced by `audit.simulation`",
        "(see its docstring for the model). Regenerate every file here, byte for byte, with",
        "",
        "```",
        "python -m sample_data.generate      # from the repository root",
        "```",
        "",
        f"Seed {SEED}; {SIZE['n_interactions']:,} interactions handled by {SIZE['n_agents']} agents "
        f"from {SIZE['start']} over {SIZE['days']} days (Q3 2026); CSAT scale 1-5 plus ten items "
        "`q_1`..`q_10` on the same scale. CSV files are UTF-8, comma-delimited, timestamps "
        "ISO 8601 UTC with `Z`. `tests/test_simulation.py` checks that the files equal what the "
        "generator produces.",
        "",
        "## Files",
        "",
        "| file | what it is |",
        "|---|---|",
        "| `contact_center/responses.csv` | survey export, one row per response "
        f"({len(flawed.responses):,} rows): response_id, interaction_id, customer_id, agent_id, "
        "channel, region, submitted_at, interaction_at, duration_s, score, q_1..q_10, month, comment "
        f"(free text from {flawed.responses['comment'].notna().sum():,} respondents, "
        f"{flawed.responses['comment'].str.contains('@|[0-9]', na=False).sum()} of them with a fictitious "
        "phone number or e-mail address: the exports redact them by default) |",
        "| `contact_center/interactions.csv` | population, one row per interaction "
        f"({len(flawed.population):,} rows): interaction_id, agent_id, channel, region, resolved, "
        "handle_time_s, repeat_contact, interaction_at, invited, responded, month |",
        f"| `contact_center/claim.json` | the published headline \"{claim['title']}\" "
        f"(type level, top2box, value {claim['value']}) |",
        f"| `contact_center/claim_award.json` | \"{award['title']}\" (type best_unit, "
        f"value {award['value']}) |",
        f"| `contact_center/claim_change.json` | \"{change['title']}\" (type change, "
        f"month {PERIOD_BEFORE} → {PERIOD_AFTER}, value = published change {change['value']}) |",
        "| `contact_center/truth.json` | answer key: true population metric, planted flaws, "
        "their agents, response ids and parameters (not an audit input) |",
        "| `clean/responses.csv`, `clean/interactions.csv` | the same contact center and seed "
        f"with a clean survey process ({len(clean.responses):,} responses) |",
        f"| `clean/claim.json`, `clean/truth.json` | its headline ({level_claim(clean)['value']}) "
        "and answer key |",
        "",
        "## What is wrong with `contact_center/`",
        "",
        f"Published: {_pct(claim['value'])} satisfied (unweighted top-2 box of all "
        f"{len(flawed.responses):,} responses). Truth: {_pct(t['population_top2box'])} of all "
        f"{SIZE['n_interactions']:,} interactions (mean score {t['population_mean']:.3f}); "
        f"the clean survey of the same interactions publishes {_pct(level_claim(clean)['value'])}.",
        "",
        "Population-level (the sample does not represent the interactions):",
        "",
        "- **selective_invitation** — all agents: surveys offered with probability 0.80 after "
        "resolved and 0.25 after unresolved interactions (×1.1 below / ×0.9 above the channel's "
        f"median handle time). Invited share: resolved {_pct(pop.loc[pop.resolved == 1, 'invited'].mean())}, "
        f"unresolved {_pct(pop.loc[pop.resolved == 0, 'invited'].mean())}.",
        "- **channel_skew** — response rate among the invited set to "
        + ", ".join(f"{c} {_pct(r)}" for c, r in p["channel_skew"]["response_rate_by_channel"].items())
        + "; observed " + ", ".join(
            f"{c} {_pct(_response_rate(pop[pop.channel == c]))}" for c in p["channel_skew"]["response_rate_by_channel"])
        + ".",
        "- **happy_respond_more** — response odds ×3 per scale point of the customer's own "
        "(unobserved) satisfaction: missing not at random, so weighting on covariates removes "
        "only part of the bias.",
        "",
        "Response-level (fraud / gaming):",
        "",
        f"- **begging_agent** — {agents['begging_agent']}: invites {_pct(beg.loc[beg.resolved == 1, 'invited'].mean())} "
        f"of resolved vs {_pct(beg.loc[beg.resolved == 0, 'invited'].mean())} of unresolved interactions, "
        f"response rate {_pct(_response_rate(beg))} (other agents {_pct(_response_rate(others))}), 60 % of its "
        f"respondents give the top score regardless ({rows.get('begging_agent', 0)} scores raised).",
        f"- **ballot_stuffing** — {agents['ballot_stuffing']}: {sum(stuffing['responses_per_customer'])} "
        f"top-score responses from {stuffing['customers']} customers "
        f"({', '.join(stuffing['customer_ids'])}; {', '.join(map(str, stuffing['responses_per_customer']))} "
        f"responses each); the first re-used one survey link ({stuffing['reused_interaction_id']} "
        f"answered {stuffing['responses_per_customer'][0]} times).",
        f"- **burst** — {agents['burst']}: {p['burst']['responses']} top-score responses submitted "
        f"within {p['burst']['window_s'] // 60} minutes from {p['burst']['start'].replace('+00:00', 'Z')}.",
        f"- **before_interaction** — {rows['before_interaction']} responses submitted 10 min to "
        "48 h before their interaction (all agents).",
        f"- **straightlining** — {rows['straightlining']} respondents "
        f"({_pct(p['straightlining']['share_of_genuine'])} of genuine ones) give their score to all "
        f"ten items (genuine all-equal answers in the clean data: {_pct(clean_straight)}).",
        f"- **speeding** — {rows['speeding']} respondents ({_pct(p['speeding']['share_of_genuine'])}) "
        f"finish in 8-25 % of the {p['speeding']['median_duration_s']:.0f} s median duration.",
        "",
        f"Flagged agents: {', '.join(t['flagged_agents'])}. The award goes to the highest raw "
        f"top-2 box ({award['unit']}, {award['value']}; ties go to the agent with more responses): "
        "with the whole survey inflated, several small agents reach 100 %, so the award winner "
        "is not the begging agent; the award's evidence is a rank-uncertainty question. The "
        f"change claim compares months of `interaction_at`; the burst falls in "
        f"{p['burst']['start'][:7]}.",
        "",
        "## `clean/`",
        "",
        "Same interactions (same seed), invitation Bernoulli(0.6) and response Bernoulli(0.3) "
        "independent of everything: every check should pass. Genuine patterns that are *not* "
        "flaws: agents differ a little in true satisfaction (agent effect SD 0.15 on the logit "
        "scale), customers with several interactions answer several surveys, response arrival "
        "follows interaction volume (weekday business hours) plus a channel-dependent lag, and "
        "with ten skewed 5-point items many genuine respondents match another on ≥ 85 % of "
        "items or answer all items alike.",
        "",
    ]
    return "\n".join(lines)


def write_files(root: Path = ROOT) -> list[Path]:
    """Write :func:`render_files` under ``root``; returns the paths written."""
    written = []
    for name, content in render_files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def main() -> None:
    for path in write_files():
        print(path.relative_to(ROOT.parent))


if __name__ == "__main__":
    main()
