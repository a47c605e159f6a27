"""How well the outlier flag separates labelled fare anomalies from real trips, and its plots.

Input: one row per scored trip (:func:`evaluation.decisions_frame`: the decision of
:func:`taximl.thresholds.decide` for each trip) and the label of each trip (``""`` for an
untouched real trip, else the anomaly kind of :mod:`fare_anomalies`). Output: recall per kind,
the flagged rate on the untouched trips (their natural anomalies included), precision, each with
a 95 % Wilson interval, next to the targets of the issue that asked for them; and two PNG plots
(predicted vs actual fare; residuals with the thresholds of each segment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation import rate_entry
from fare_anomalies import KINDS
from taximl.thresholds import MIN_FARE_FOR_RELATIVE

if TYPE_CHECKING:
    import pandas as pd

#: What the flag must achieve on a real month held out in time with 3 % labelled anomalies.
TARGETS: dict[str, float] = {"recall": 0.97, "untouched_flagged_rate": 0.0075, "precision": 0.80}
PLOT_FILES = ("predicted_vs_actual.png", "residuals_thresholds.png")
_COLORS = {"padded_fare": "#d62728", "made_up_surcharge": "#ff7f0e",
           "flat_rate_abuse": "#9467bd", "undercharged": "#1f77b4"}


def detection_metrics(decided: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    """Recall per kind, flagged rate on untouched trips, precision; each with a 95 % CI."""
    import numpy as np

    label = np.asarray(labels, dtype=object)
    if len(label) != len(decided):
        raise ValueError("one label per decided trip is needed")
    flagged = decided["is_outlier"].to_numpy(dtype=bool)
    judged = decided["judged"].to_numpy(dtype=bool)
    untouched = label == ""
    kinds: dict[str, Any] = {}
    for kind in [k for k in KINDS if (label == k).any()]:
        mask = label == kind
        entry = rate_entry(int((flagged & mask).sum()), int(mask.sum()))
        kinds[kind] = {"trips": entry["trips"], "caught": entry["flagged"],
                       "recall": entry["rate"], "ci95": entry["ci95"],
                       "not_judged": int((mask & ~judged).sum())}
    labelled = ~untouched
    caught = int((flagged & labelled).sum())
    recall = rate_entry(caught, int(labelled.sum()))
    precision = rate_entry(caught, int(flagged.sum()))
    metrics: dict[str, Any] = {
        "trips": len(label),
        "labelled": int(labelled.sum()),
        "recall": {"trips": recall["trips"], "caught": caught, "recall": recall["rate"],
                   "ci95": recall["ci95"]},
        "kinds": kinds,
        "untouched": rate_entry(int((flagged & untouched).sum()), int(untouched.sum())),
        "untouched_judged": rate_entry(int((flagged & untouched & judged).sum()),
                                       int((untouched & judged).sum())),
        "untouched_not_judged": int((untouched & ~judged).sum()),
        "precision": {"flagged": precision["trips"], "labelled": caught,
                      "precision": precision["rate"], "ci95": precision["ci95"]},
    }
    metrics["targets"] = check_targets(metrics)
    return metrics


def check_targets(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Each target next to the achieved figure and whether it is met."""
    achieved = {
        "recall": metrics["recall"]["recall"],
        "untouched_flagged_rate": metrics["untouched"]["rate"],
        "precision": metrics["precision"]["precision"],
    }
    out = {}
    for name, target in TARGETS.items():
        value = achieved[name]
        ok = None if value is None else (value <= target if name == "untouched_flagged_rate"
                                         else value >= target)
        out[name] = {"target": target, "achieved": value, "met": ok}
    return out


def format_detection(metrics: Mapping[str, Any]) -> str:
    """The figures as a text table for the terminal."""
    lines = [f"{'labelled anomalies':<26}{'trips':>7}{'caught':>8}{'recall':>9}  95 % CI"]
    for kind, entry in metrics["kinds"].items():
        lines.append(_row(kind, entry["trips"], entry["caught"], entry["recall"], entry["ci95"]))
    total = metrics["recall"]
    lines.append(_row("ALL labelled", total["trips"], total["caught"], total["recall"],
                      total["ci95"]))
    untouched = metrics["untouched"]
    lines.append("")
    lines.append(f"{'untouched real trips':<26}{'trips':>7}{'flagged':>8}{'rate':>9}  95 % CI")
    lines.append(_row("flagged (all)", untouched["trips"], untouched["flagged"],
                      untouched["rate"], untouched["ci95"], pct_digits=2))
    judged = metrics["untouched_judged"]
    lines.append(_row("flagged (judged trips)", judged["trips"], judged["flagged"],
                      judged["rate"], judged["ci95"], pct_digits=2))
    lines.append(f"{'not judged':<26}{metrics['untouched_not_judged']:>7}")
    precision = metrics["precision"]
    lines.append("")
    lines.append(_row("precision (flags)", precision["flagged"], precision["labelled"],
                      precision["precision"], precision["ci95"]))
    lines.append("")
    for name, entry in metrics["targets"].items():
        value = entry["achieved"]
        shown = "-" if value is None else (f"{value:.2%}" if name == "untouched_flagged_rate"
                                           else f"{value:.3f}")
        bound = "<=" if name == "untouched_flagged_rate" else ">="
        target = (f"{entry['target']:.2%}" if name == "untouched_flagged_rate"
                  else f"{entry['target']:.2f}")
        verdict = {True: "met", False: "NOT met", None: "n/a"}[entry["met"]]
        lines.append(f"{name:<31}{shown:>9}  (target {bound} {target}: {verdict})")
    return "\n".join(lines)


def _row(label: str, n: int, k: int, rate: float | None, ci: Sequence[float],
         pct_digits: int | None = None) -> str:
    if rate is None:
        shown = "-"
    elif pct_digits is not None:
        shown = f"{rate:.{pct_digits}%}"
    else:
        shown = f"{rate:.3f}"
    low, high = ci
    interval = (f"{low:.2%}-{high:.2%}" if pct_digits is not None else f"{low:.3f}-{high:.3f}")
    return f"{label:<26}{n:>7}{k:>8}{shown:>9}  {interval}"


# --- plots -------------------------------------------------------------------------------------
def threshold_curve(entry: Mapping[str, Any], floor: Mapping[str, Any], predicted: Any) -> Any:
    """The USD threshold of one document entry as a function of the predicted fare."""
    import numpy as np

    base = np.maximum(np.asarray(predicted, dtype="float64"), MIN_FARE_FOR_RELATIVE)
    abs_threshold = max(float(entry["abs"]), float(floor.get("abs", 0.0)))
    rel_threshold = max(float(entry["rel"]), float(floor.get("rel", 0.0)))
    return np.maximum(abs_threshold, rel_threshold * base)


def write_plots(decided: pd.DataFrame, labels: Sequence[str], doc: Mapping[str, Any],
                out_dir: Path, title: str = "") -> list[Path]:
    """``predicted_vs_actual.png`` and ``residuals_thresholds.png`` in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    label = np.asarray(labels, dtype=object)
    flagged = decided["is_outlier"].to_numpy(dtype=bool)
    pred = decided["predicted"].to_numpy()
    actual = decided["actual"].to_numpy()
    untouched = label == ""
    paths = [out_dir / name for name in PLOT_FILES]

    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    ax.scatter(pred[untouched & ~flagged], actual[untouched & ~flagged], s=4, c="#bbbbbb",
               label=f"real trips, not flagged ({int((untouched & ~flagged).sum()):,})")
    ax.scatter(pred[untouched & flagged], actual[untouched & flagged], s=22, c="black",
               marker="x", label=f"real trips, flagged ({int((untouched & flagged).sum()):,})")
    for kind in [k for k in KINDS if (label == k).any()]:
        mask = label == kind
        color = _COLORS.get(kind, "#2ca02c")
        ax.scatter(pred[mask & flagged], actual[mask & flagged], s=18, c=color,
                   label=f"{kind}: caught {int((mask & flagged).sum())}/{int(mask.sum())}")
        ax.scatter(pred[mask & ~flagged], actual[mask & ~flagged], s=40, facecolors="none",
                   edgecolors=color, linewidths=1.2)
    top = float(np.nanquantile(np.concatenate([pred, actual]), 0.999)) * 1.1
    ax.plot([0, top], [0, top], color="#444444", linewidth=0.8)
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="predicted fare (USD)",
           ylabel="actual fare_amount (USD)",
           title=title or "Predicted vs actual fare (hollow markers: anomalies not flagged)")
    ax.legend(loc="upper left", fontsize=8, markerscale=1.5)
    fig.tight_layout()
    fig.savefig(paths[0])
    plt.close(fig)

    judged = decided["judged"].to_numpy(dtype=bool)
    rules = decided.loc[judged, "rule"].value_counts()
    panels = list(rules.index[:6])
    columns = 3 if len(panels) > 2 else max(1, len(panels))
    rows_n = max(1, math.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows_n, columns, figsize=(5.2 * columns, 4.2 * rows_n), dpi=100,
                             squeeze=False)
    floor = doc.get("materiality") or {}
    residual = decided["residual"].to_numpy()
    for ax, rule in zip(axes.flat, panels, strict=False):
        in_rule = judged & (decided["rule"].to_numpy() == rule)
        entry = doc["global"] if rule == "global" else doc["segments"].get(rule)
        ax.scatter(pred[in_rule & untouched], residual[in_rule & untouched], s=3, c="#999999")
        for kind in [k for k in KINDS if (label == k).any()]:
            mask = in_rule & (label == kind)
            ax.scatter(pred[mask], residual[mask], s=10, c=_COLORS.get(kind, "#2ca02c"))
        if entry is not None and in_rule.any():
            grid = np.linspace(0, max(float(np.nanmax(pred[in_rule])), 5.0), 200)
            curve = threshold_curve(entry, floor, grid)
            ax.plot(grid, curve, color="black", linewidth=1)
            ax.plot(grid, -curve, color="black", linewidth=1)
        ax.axhline(0, color="#cccccc", linewidth=0.6)
        limit = float(np.nanquantile(np.abs(residual[in_rule]), 0.995)) * 2 + 5
        ax.set(ylim=(-limit, limit), xlabel="predicted fare (USD)", ylabel="actual - predicted",
               title=f"{rule} ({int(in_rule.sum()):,} trips)")
        ax.title.set_fontsize(8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Residuals and the thresholds of each segment entry (black: flag above/below)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
