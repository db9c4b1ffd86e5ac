"""What `eos sweep` and `eos robustness` print after a run: lines of text from a result, nothing
computed that the result does not hold (the command line prints them)."""

from __future__ import annotations

import math

import numpy as np


def robustness(result) -> list[str]:
    """Medians over seeds per row of the sweep, the fitted exponents and what they mean."""
    out: list[str] = []
    s = result.summary
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
    out += _exponents(result)
    for kind in ("lower", "upper"):
        c = result.slope[f"collapse_{kind}"]
        out.append(
            f"collapse constant Lip {kind} / √(nd/p): {c['median']:.3f} (range {c['min']:.3f}–{c['max']:.3f}) "
            f"inside the regime"
            if not math.isnan(c["median"])
            else f"collapse constant Lip {kind} / √(nd/p): none (no fit inside the regime)"
        )
    out.append(
        f"(medians over seeds; lower by: the most common; regime: n ≤ p ≤ {result.slope['regime']:g}·nd with √(nd/p) "
        f"above the floor, the Lipschitz constant the data force on any fit with MSE ≤ σ² − ε; fits outside it "
        f"are shown, not fitted; smoother: the search's criterion at the first fit over that at the smoothest; "
        f"lower/upper rounded down/up)"
    )
    out += _certified_note(result)
    return out


SYMBOL = {"params": "p", "width": "k", "n": "n", "d": "d"}


def _plural(unit: str) -> str:
    """'cell (n, d)' -> 'cells (n, d)'."""
    word, _, rest = unit.partition(" ")
    return f"{word}s {rest}"


def _pm(entry: dict, digits: int = 3) -> str:
    """slope ± its clustered error (or 'no error' where the design has too few datasets for one)."""
    err = f" ± {entry['stderr']:.{digits}f}" if math.isfinite(entry["stderr"]) else " (no error: too few units)"
    return f"{entry['slope']:+.{digits}f}{err}"


def _exponents(result) -> list[str]:
    """The fitted exponents with their clustered errors, each form beside its prediction, and a reading."""
    from eos.robustness import fits

    fit, s = result.slope, result.summary
    unit = f"errors: one standard error clustered over the {fit['clusters']} {_plural(fit['unit'])} inside the regime"
    if fit["axis"] != "joint":
        return _one_axis(result, unit)
    out = []
    forms = (("BS", fit), ("BLN", fit["two_layer"]))
    for kind in ("lower", "upper"):
        out.append(f"exponents of Lip {kind} (one fit of log Lip over the {fit['rows']} fits inside the regime):")
        for form, part in forms:
            axes = fits.FORMS[form]
            if math.isnan(part[kind][axes[0]]["slope"]):
                out.append(f"  [{form}] not fitted: {fit['rows']} fits inside the regime, too few for four numbers")
                continue
            measured = ", ".join(f"{SYMBOL[a]} {_pm(part[kind][a])}" for a in axes)
            law = ", ".join(f"{part['law'][a]:+.3f}" for a in axes)
            out.append(f"  [{form}] {measured}   (law: {law})")
    out.append(
        f"  ({unit}; the naive ones, which count every network as independent, are on p "
        f"± {fit['lower']['params']['naive_stderr']:.3f})"
        if math.isfinite(fit["lower"]["params"]["slope"])
        else f"  ({unit})"
    )
    out.append(_reading(fit, s))
    return out


def _reading(fit: dict, s: dict) -> str:
    """Which form the measured d exponent supports, in one line, from the numbers."""
    from eos.robustness import fits

    d_bln, d_bs = fit["two_layer"]["lower"]["d"], fit["lower"]["d"]
    if math.isnan(d_bln["slope"]) or not math.isfinite(d_bln["stderr"]):
        return "reading: too few fits inside the regime to tell the two forms apart"
    rows = fits.inside(s)
    c = float(np.median((np.asarray(s["lip_lower"], float) / np.asarray(s["two_layer_scale"], float))[rows]))
    if not fits.significant(d_bln):
        return (
            f"reading: at fixed width the constant does not depend on d (d {_pm(d_bln)} at fixed k): "
            f"Lip ≈ {c:.2f}·√(n/k) [BLN]; the d of [BS] comes from p ≈ k·d"
        )
    off_bln, off_bs = abs(d_bln["slope"]) / d_bln["stderr"], abs(d_bs["slope"] - 0.5) / d_bs["stderr"]
    if off_bs <= fits.SIGNIFICANT:
        return f"reading: d enters beyond the width (d {_pm(d_bln)} at fixed k, {_pm(d_bs)} at fixed p): the [BS] form"
    nearer = f"[BLN]'s 0 at fixed k (Lip ≈ {c:.2f}·√(n/k))" if off_bln < off_bs else "[BS]'s +½ at fixed p"
    return (
        f"reading: neither form's d exponent within {fits.SIGNIFICANT:g} errors (d {_pm(d_bln)} at fixed k: "
        f"{off_bln:.1f} errors from 0; {_pm(d_bs)} at fixed p: {off_bs:.1f} from +½); nearer {nearer}"
    )


def _one_axis(result, unit: str) -> list[str]:
    """A one-axis design: the exponent it can measure, the law's drift along it, and what left the regime."""
    from eos.robustness import fits

    fit, cfg = result.slope, result.config
    axis = SYMBOL[fit["axis"]]
    p_held = int(result.summary["params"][0]) if len(result.summary["params"]) else 0
    held = {
        "params": f"n = {cfg.n}, d = {cfg.d}",
        "n": f"k = {cfg.widths[0]}, d = {cfg.d}",
        "d": f"p = {p_held}, n = {cfg.n}",
    }
    what = {
        "params": "the p exponent at fixed n and d (a width sweep: [BS]'s p and [BLN]'s k, both −½)",
        "n": "the n exponent at a fixed width (both forms: +½)",
        "d": "the d exponent at fixed p (k falls as d grows: both forms +½; it cannot tell them apart)",
    }[fit["axis"]]
    out = [f"this design measures {what}, with {held[fit['axis']]} held"]
    for kind in ("lower", "upper"):
        entry = fit[kind]
        measured = (
            f"{_pm(entry)} ({entry['points']} fits inside the regime)"
            if not math.isnan(entry["slope"])
            else f"not fitted: {entry['points']} fits inside the regime, and a slope needs two values of {axis}"
        )
        out.append(f"exponent of Lip {kind} in {axis}: {measured}; the law predicts {fit['law']:+.3f}")
    out.append(f"  ({unit})")
    drift = fit["drift"]
    if not math.isnan(drift["slope"]):
        verdict = (
            f"the law's constant drifts along {axis}, so the exponent above is not the law's alone"
            if fits.significant(drift)
            else "no drift within its error: the law's constant holds along the design"
        )
        out.append(f"collapse constant Lip lower / √(nd/p) ∝ {axis}^({_pm(drift)}) inside the regime: {verdict}")
    gone = fit["outside"]
    if gone["fits"]:
        where = ", ".join(str(v) for v in gone["values"])
        out.append(
            f"{gone['fits']} of {gone['of']} fits lie outside the regime (at {axis} = {where}): shown, not fitted"
        )
    if cfg.vary == "d":
        out.append(f"  (--vary d holds p = {int(result.summary['params'][0])} fixed: p/(nd) falls as d grows)")
    return out


def _certified_note(result) -> list[str]:
    """Theorem 3's sample-size condition, checked at each cell's own n."""
    from eos.robustness import theory

    s, cfg = result.summary, result.config
    ns = sorted({int(n) for n in s["n"]})
    failing = [n for n in ns if not theory.certified_applies(n, cfg.eps, cfg.delta)]
    if not failing:
        return []
    span = lambda v: f"{v[0]:g}" if len(v) == 1 or v[0] == v[-1] else f"{v[0]:g}–{v[-1]:g}"
    where = "at every n here" if len(failing) == len(ns) else f"at n = {', '.join(map(str, failing))}"
    return [
        f"note: Theorem 3's certified bound (median {np.median(s['certified_bound']):.2e}) needs "
        f"8⁴ log(8/δ) ≤ nε², which fails {where} (nε² = {span([n * cfg.eps**2 for n in failing])}); "
        f"it is in summary.csv for scale only"
    ]


def sweep(result) -> list[str]:
    """The table (medians over seeds), the regimes with their rules, the verdict and the predictions."""
    from eos.dynamics import regime
    from eos.dynamics.sweep import model_facts

    out: list[str] = []
    s, model = result.summary, model_facts(result)
    grid = s["round"] == 0  # refinement rows differ per seed; they are in summary.csv
    lrs = np.unique(s["lr"][grid])
    rows = _table_rows(lrs, result.transition)
    accuracy = "test_acc" in s  # models without test data have no such column
    out.append(
        f"{'η':>10} {'final ' + model['symbol']:>9}{' test acc' if accuracy else ''} {'held λη/2':>9} {'max λη/2':>9} "
        f"{'regime':<18} {'diverged':>8} {'dead':>4}"
    )
    for x in rows:
        m = grid & (s["lr"] == x)
        ok = m & (s["status"] != "diverged") & ~np.asarray(s["dead"], bool)  # the overview's statistic too
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
        f"({len(rows)} of {len(lrs)} grid step sizes shown; numbers are medians over the seeds that neither diverged "
        f"nor died (counted in their columns; all in summary.csv), the regime the most common; held λη/2: the "
        f"level the sharpness holds for {regime.percent(regime.STRETCH)} of the run after the first "
        f"{regime.percent(regime.TRANSIENT)}, ≈ 1 at the edge of stability; all "
        f"{len(s['lr'])} runs in summary.csv)"
    )
    spans = regime.ranges(s["lr"][grid], s["regime"][grid])
    out.append("regimes: " + ";  ".join(f"{regime.LABELS[n]} {_span(a, b)}" for n, a, b, _ in spans))
    for name in dict.fromkeys(n for n, *_ in spans):
        out.append(f"  {regime.LABELS[name]}: {regime.rules()[name]}")
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


def _transition(result, model: dict) -> list[str]:
    """The verdict with the measurements it rests on (each with its interval over seeds), the next
    command where one would decide, η* as located, then the predictions."""
    from eos.dynamics.config import command_line

    out: list[str] = []
    t, th = result.transition, result.theory["threshold_lr"]
    symbol = model["symbol"]
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
        predicted.append(f"{model['formula']} {th['closed_form']:.4g}")
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
        out.append(f"  located / predicted: {ratio['value']:.3g} ({interval}) × {model['formula']}")
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
