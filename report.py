"""What `eos sweep` and `eos robustness` print after a run: lines of text from a result, nothing
computed that the result does not hold (the command line prints them)."""

from __future__ import annotations

import math

import numpy as np


def robustness(result) -> list[str]:
    """Medians over seeds per row of the sweep, the fitted exponents and what they mean."""
    out: list[str] = []
    s, cfg = result.summary, result.config
    out.append(
        f"{'n':>5} {'d':>4} {'k':>5} {'p':>7} {'p/(nd)':>7} {'fits':>5} {'Lip lower':>9} {'lower by':>14} "
        f"{'Lip upper':>9} {'upper by':>8} {'floor':>6} {'√(nd/p)':>8} {'regime':>6} {'smoother':>8}"
    )
    from eos.results.rounding import down_fixed, up_fixed

    keys = sorted({(int(a), int(b), int(c)) for a, b, c in zip(s["n"], s["d"], s["width"])})
    for n_, d_, k in keys:
        r = (s["n"] == n_) & (s["d"] == d_) & (s["width"] == k)
        med = lambda col: float(np.median(s[col][r]))
        methods = sorted(set(s["lip_upper_method"][r]))
        names, counts = np.unique(s["lip_lower_method"][r], return_counts=True)
        lower_by = str(names[np.argmax(counts)])  # the most common over seeds
        out.append(
            f"{n_:>5} {d_:>4} {k:>5} {int(s['params'][r][0]):>7} {med('p_over_nd'):>7.4f} "
            f"{int(s['fits_below_noise'][r].sum()):>3}/{int(r.sum())} {down_fixed(med('lip_lower')):>9} {lower_by:>14} "
            f"{up_fixed(med('lip_upper')):>9} {'/'.join(methods):>8} "
            f"{med('floor'):>6.3f} {med('law_scale'):>8.3f} {'yes' if s['in_regime'][r].all() else 'no':>6} "
            + (f"{np.nanmedian(s['smoothing_gain'][r]):>7.2f}×" if s["fits_below_noise"][r].any() else f"{'—':>8}")
        )
    for i in np.flatnonzero(s["bracket"] != "ok"):
        out.append(f"  k = {s['width'][i]}, seed {s['seed'][i]}: bracket {s['bracket'][i]}")
    fit = result.slope
    law = fit["law"]
    if fit["axis"] == "joint":
        for kind in ("lower", "upper"):
            parts = [f"{a} {fit[kind][a]['slope']:+.3f} ± {fit[kind][a]['stderr']:.3f}" for a in ("n", "d", "params")]
            if math.isnan(fit[kind]["n"]["slope"]):
                parts = [f"not fitted: {fit['rows']} fits inside the regime, too few for four numbers in n, d and p"]
            out.append(f"exponents of Lip {kind}: " + ", ".join(parts).replace("params", "p"))
        out.append(
            f"  (one fit of log Lip = c + α log n + β log d + γ log p over the {fit['rows']} fits inside the regime; "
            f"the law predicts n {law['n']:+.3f}, d {law['d']:+.3f}, p {law['params']:+.3f})"
        )
    else:
        axis = {"params": "p", "n": "n", "d": "d"}[fit["axis"]]
        for kind in ("lower", "upper"):
            measured = (
                f"{fit[kind]['slope']:+.3f} ± {fit[kind]['stderr']:.3f} ({fit[kind]['points']} fits inside the regime)"
                if not math.isnan(fit[kind]["slope"])
                else f"not fitted: {fit[kind]['points']} fits inside the regime, and a slope needs two values of {axis}"
            )
            out.append(f"exponent of Lip {kind} in {axis}: {measured}; the law predicts {law:+.3f}")
        if cfg.vary == "d":
            out.append(f"  (--vary d holds p = {int(s['params'][0])} fixed: p/(nd) falls as d grows)")
    for kind in ("lower", "upper"):
        c = fit[f"collapse_{kind}"]
        out.append(
            f"collapse constant Lip {kind} / √(nd/p): {c['median']:.3f} (range {c['min']:.3f}–{c['max']:.3f}) "
            f"inside the regime"
            if not math.isnan(c["median"])
            else f"collapse constant Lip {kind} / √(nd/p): none (no fit inside the regime)"
        )
    out.append(
        f"(medians over seeds; lower by: the most common; regime: n ≤ p ≤ {fit['regime']:g}·nd with √(nd/p) "
        f"above the floor, the Lipschitz constant "
        f"the data force on any fit with MSE ≤ σ² − ε; fits outside it are shown, not fitted; smoother: the search's "
        f"criterion at the first fit over that at the smoothest; lower/upper rounded down/up)"
    )
    if not result.meta["certified_applies"]:
        out.append(
            f"note: Theorem 3's certified bound (median {np.median(s['certified_bound']):.2e}) needs "
            f"8⁴ log(8/δ) ≤ nε², which fails here (nε² = {cfg.n * cfg.eps**2:.3g}); it is in summary.csv "
            f"for scale only"
        )
    return out


def sweep(result) -> list[str]:
    """The table (medians over seeds), the regimes with their rules, the verdict and the predictions."""
    from eos.dynamics import regime
    from eos.dynamics.model import make_model

    out: list[str] = []
    s, model = result.summary, make_model(result.config.spec)
    grid = s["round"] == 0  # refinement rows differ per seed; they are in summary.csv
    lrs = np.unique(s["lr"][grid])
    rows = _table_rows(lrs, result.transition)
    accuracy = "test_acc" in s  # models without test data have no such column
    out.append(
        f"{'η':>10} {'final ' + model.symbol:>9}{' test acc' if accuracy else ''} {'held λη/2':>9} {'max λη/2':>9} "
        f"{'regime':<18} {'diverged':>8} {'dead':>4}"
    )
    for x in rows:
        m = grid & (s["lr"] == x)
        ok = m & (s["status"] != "diverged")
        med = lambda col, w: (
            f"{np.median(s[col][ok]):>{w}.{4 if w == 9 and col == 'final_threshold' else 3}f}"
            if ok.any()
            else f"{'—':>{w}}"
        )
        acc = f" {med('test_acc', 8)}" if accuracy else ""
        out.append(
            f"{x:>10.4g} {med('final_threshold', 9)}{acc} {med('edge_ratio', 9)} {med('edge_ratio_max', 9)} "
            f"{regime.ranges(s['lr'][m], s['regime'][m])[0][0]:<18} "
            f"{int(s['diverged'][m].sum()):>4d}/{m.sum():<3d} {int(s['dead'][m].sum()):>4d}"
        )
    out.append(
        f"({len(rows)} of {len(lrs)} grid step sizes shown; numbers are medians over the seeds that did not diverge "
        f"(diverged runs: summary.csv, diverged_step), the regime the most common; held λη/2: the level the sharpness "
        f"holds for 10 % of the run after the first 5 %, ≈ 1 at the edge of stability; all {len(s['lr'])} runs in "
        f"summary.csv)"
    )
    spans = regime.ranges(s["lr"][grid], s["regime"][grid])
    out.append("regimes: " + ";  ".join(f"{regime.LABELS[n]} {_span(a, b)}" for n, a, b, _ in spans))
    for name in dict.fromkeys(n for n, *_ in spans):
        out.append(f"  {regime.LABELS[name]}: {regime.RULES[name]}")
    out += _transition(result, model)
    unreliable = int(np.sum(s["status"] == "sharpness_unreliable")) if "status" in s else 0
    if unreliable:
        out.append(
            f"{unreliable} run{'s' * (unreliable != 1)} recorded a sharpness that failed Lanczos's check "
            f"(NaN in trajectories.npz, status sharpness_unreliable in summary.csv)"
        )
    out.append(
        f"wasted member-steps: {100 * result.meta['engine']['wasted_fraction']:.1f}% of "
        f"{result.meta['engine']['useful_steps']} useful"
    )
    return out


def _transition(result, model) -> list[str]:
    """The verdict with the measurements it rests on (each with its interval over seeds), the next
    command where one would decide, η* as located, then the predictions."""
    from eos.dynamics.config import command_line

    out: list[str] = []
    t, th = result.transition, result.theory["threshold_lr"]
    symbol = model.symbol
    out.append(f"verdict: {t['verdict']} — {t['reason']}")
    if t.get("advice"):
        out.append(f"  to decide: {command_line(result.config, **t['advice'])}")
    est = t["estimate"]
    if t["verdict"] in ("sharp", "crossover", "premise_fails", "undecided", "too_coarse") and math.isfinite(
        est["value"]
    ):
        what = {"sharp": "located η*", "crossover": "bend of the crossover", "too_coarse": "kink, roughly"}
        out.append(
            f"{what.get(t['verdict'], 'kink')} (kink of the seeds' mean final {symbol}) = {est['value']:.4g} "
            f"({_located_interval(est)}), between grid points {est['bracket'][0]:.4g} and {est['bracket'][1]:.4g}"
        )
        fits = [p["kink"] for p in t["per_seed"]]
        out.append(
            "  per seed: "
            + ", ".join(
                f"{f['knot']:.4g} (×{f['ratio']:.3g})" if f["status"] == "fitted" else "too few points" for f in fits
            )
            + f" (each seed's own hinge fit; the verdict uses the mean over the {len(fits)} seeds)"
        )
        if est["coarse"]:
            out.append(f"  the bracket is wider than 20 %: --refine 2 places η* more finely around {est['value']:.3g}")
    premise = t.get("premise", {})
    if premise.get("measured"):
        baseline = result.theory.get("linear_rule_accuracy")
        s = result.summary
        smallest = s["lr"] == s["lr"].min()
        acc = ""
        if baseline is not None and "test_acc" in s:
            acc = (
                f"; test accuracy there {np.median(s['test_acc'][smallest]):.3f} against the linear rule's "
                f"{baseline:.3f}"
            )
        scale = premise.get("scale")
        out.append(
            f"premise: gradient flow (η = {s['lr'].min():.3g}) ends at {symbol} = "
            f"{premise['gradient_flow_value']:.3g}; "
            f"|move| / scale {scale:g} = {_interval(premise)} (premise of [AB]: under {premise['cut']:g}){acc}"
        )
    out.append(f"edge of stability reached from η = {_fmt(t['eos'])}")
    predicted = []
    if "closed_form" in th:
        predicted.append(f"{model.theory.formula} {th['closed_form']:.4g}")
    if "gradient_flow" in th:
        gf = th["gradient_flow"]
        values = np.asarray(gf["per_seed"], float)
        finite = values[np.isfinite(values)]
        missing = len(values) - len(finite)
        if len(finite):
            predicted.append(
                f"2/max λ along gradient flow from each seed's start {gf['median']:.4g} "
                f"(seeds {finite.min():.4g}–{finite.max():.4g})"
                + (f", {missing} seed{'s' * (missing != 1)} not converged (run.json says why)" if missing else "")
            )
        else:
            predicted.append("2/max λ along gradient flow: no seed converged (run.json says why)")
    if predicted:
        out.append(f"predicted η*: {';  '.join(predicted)}")
    if t["verdict"] == "sharp" and "closed_form" in th:
        ratio = {k: est[k] / th["closed_form"] for k in ("value", "lo", "hi")}
        interval = f"{ratio['lo']:.3g}–{ratio['hi']:.3g}"
        out.append(f"  located / predicted: {ratio['value']:.3g} ({interval}) × {model.theory.formula}")
    out.append(
        f"diagnostic, not a prediction of η*: 2/λ of the initial Hessian {th['initial_hessian']['median']:.4g} "
        f"(the sharpness at initialisation, before training has moved the parameters)"
    )
    return out


def _located_interval(est: dict) -> str:
    if est.get("resolution") is None:
        return "no interval"
    seeds = "" if est["over_seeds"][0] is None else "95 % over seeds, "
    return f"{seeds}± one grid spacing: {est['lo']:.4g}–{est['hi']:.4g}"


def _interval(value: dict, percent: bool = False) -> str:
    from eos.dynamics.pooled import interval_of

    return interval_of(value, "percent" if percent else "plain")


def _span(lo: float, hi: float) -> str:
    return f"η = {lo:.3g}" if lo == hi else f"η = {lo:.3g}–{hi:.3g}"


def _fmt(summary: dict) -> str:
    if not summary["bracketed"]:
        return f"— (no seed reaches it inside the grid, 0 of {summary['seeds']})"
    return (
        f"{summary['median']:.4g} (median over {summary['bracketed']}/{summary['seeds']} seeds, "
        f"range {summary['min']:.4g}–{summary['max']:.4g})"
    )


def _table_rows(lrs: np.ndarray, located: dict, most: int = 32) -> np.ndarray:
    if len(lrs) <= most:
        return lrs
    keep = set(lrs[np.linspace(0, len(lrs) - 1, most - 8).round().astype(int)].tolist())
    keep.update(x for x in located["estimate"]["bracket"] if x in set(lrs.tolist()))
    return np.array(sorted(keep))


def verdict_map(result) -> list[str]:
    """One line per cell (its settings, verdict, slope ratio, flow share and η* with their 95 % intervals
    over seeds), then the verdicts along each axis."""
    from eos.dynamics.verdict_map import SYMBOLS

    names = [name for name, _ in result.config.axes]
    span = lambda r, key, f: (
        f"{f(r[key])} [{f(r[key + '_lo'])}–{f(r[key + '_hi'])}]"
        if math.isfinite(r[key]) and math.isfinite(r[key + "_lo"])
        else (f(r[key]) if math.isfinite(r[key]) else "—")
    )
    times = lambda v: f"{v:.3g}"
    level = lambda v: f"{v:.2f}"
    out = [
        " ".join(f"{SYMBOLS[n]:>6}" for n in names)
        + f" {'verdict':>13} {'slope ratio ×':>22} {'flow |move|/scale':>17} {'η*/prediction':>20}"
        + f" {'flow b':>7} {'wall':>6}"
    ]
    for r in result.rows:
        ratio = (
            {k: r[f"eta_star{k}"] / r["prediction"] for k in ("", "_lo", "_hi")}
            if math.isfinite(r["prediction"])
            else {"": math.nan, "_lo": math.nan, "_hi": math.nan}
        )
        eta = span({"x": ratio[""], "x_lo": ratio["_lo"], "x_hi": ratio["_hi"]}, "x", lambda v: f"{v:.3f}")
        out.append(
            " ".join(f"{r[n]:>6g}" for n in names)
            + f" {r['verdict']:>13} {span(r, 'sharpness', times):>22} {span(r, 'flow_level', level):>17} "
            f"{eta:>20} {r['flow_threshold']:>7.3f} {r['wall_s']:>5.1f}s"
        )
    seeds = result.rows[0]["seeds"] if result.rows else 0
    out.append(
        f"(each cell a sweep of {seeds} seeds; [ ]: 95 % intervals from a bootstrap over seeds; flow |move|/scale: how "
        f"far gradient flow alone moves the threshold variable, over the model's scale for it (σ; the premise of "
        f"[AB] needs under 0.5); flow b: at the smallest η)"
    )
    out += result.lines
    return out
