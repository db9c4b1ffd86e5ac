"""One look for every figure: seaborn paper theme, serif fonts, a colour-blind-safe palette,
single-column (3.25 in) and full-width (6.75 in) sizes, PDF plus 300-dpi PNG with a JSON sidecar."""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

COLUMN = 3.25  # inches
FULL = 6.75
PALETTE = sns.color_palette("colorblind")


def apply() -> None:
    import logging

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # font subsetting chatters about timestamps
    sns.set_theme(
        context="paper",
        style="ticks",
        palette=PALETTE,
        font="serif",
        rc={
            "font.size": 8,
            "axes.labelsize": 8,
            "axes.titlesize": 8,
            "legend.fontsize": 7,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "lines.linewidth": 1.2,
            "lines.markersize": 3,
            "legend.frameon": False,
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,
            "mathtext.fontset": "dejavuserif",
        },
    )


def figure(width: float = COLUMN, height: float | None = None, **kw):
    apply()
    return plt.subplots(figsize=(width, height or width * 0.75), constrained_layout=True, **kw)


def save(fig, out: Path, name: str, sources: dict) -> list[Path]:
    """Write NAME.pdf, NAME.png (300 dpi) and NAME.json (which runs it came from) into out."""
    from eos.results.provenance import git_commit

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png", out / f"{name}.json"]
    fig.savefig(paths[0])
    fig.savefig(paths[1], dpi=300)
    paths[2].write_text(
        json.dumps(
            {
                "figure": name,
                "runs": {k: str(v) for k, v in sources.items()},
                "git_commit": git_commit(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            indent=2,
        )
        + "\n"
    )
    plt.close(fig)
    return paths


def prediction_label(result) -> str:
    """'predicted: FORMULA' for a sweep's closed-form η*, in the run's own formula (run.json)."""
    from eos.dynamics.sweep import model_facts

    return "predicted: " + model_facts(result)["formula"].replace("ℓ", r"$\ell$")  # the serif font has no ℓ glyph


def write_overview(result, out: Path, figure: str, name: str = "overview.png") -> str | None:
    """`name` (overview.png), the picture module eos.figures.FIGURE draws of this result, beside the
    result files (written whole); None, or for a figure that cannot be drawn the note saying why
    (never a lost result)."""
    import importlib
    import warnings

    from eos.results.files import replace_whole

    from . import NothingToDraw

    try:
        with warnings.catch_warnings():  # a font's missing glyph is no news a user can act on
            warnings.simplefilter("ignore", UserWarning)
            fig = importlib.import_module(f"eos.figures.{figure}").draw(result)
            replace_whole(Path(out) / name, lambda p: fig.savefig(p, dpi=200, format="png"))
        plt.close(fig)
        return None
    except Exception as e:  # the results are written; a failed picture must not hide them
        return f"{name} not drawn: {e if isinstance(e, NothingToDraw) else f'{type(e).__name__}: {e}'}"
