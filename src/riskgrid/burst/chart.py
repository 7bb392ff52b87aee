"""A PNG of a simulated day: capacity in use and queue depth, on-premises only vs burst."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from riskgrid.burst.simulate import Outcome


def _hours(t: np.ndarray) -> np.ndarray:
    return t / 3600.0


def write_chart(outcomes: dict[str, Outcome], path: str | Path, *, title: str = "") -> Path:
    """Two panels per mode (cores over the day, queued cores); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    modes = list(outcomes)
    fig, axes = plt.subplots(
        2, len(modes), figsize=(5.2 * len(modes), 5.2), sharex=True, squeeze=False, dpi=80
    )
    peak = max(float(np.max(o.series["capacity"], initial=0)) for o in outcomes.values())
    queued = max(float(np.max(o.series["pending"], initial=0)) for o in outcomes.values())
    for col, mode in enumerate(modes):
        o = outcomes[mode]
        s = o.series
        x = _hours(s["t"])
        top, bottom = axes[0][col], axes[1][col]
        layers = [s["onprem"]] + [s[k] for k in s if k.startswith("cloud:")]
        labels = ["on-prem busy"] + [k.split(":", 1)[1] + " nodes" for k in s if ":" in k]
        top.stackplot(x, *layers, labels=labels, step="post", alpha=0.8)
        top.step(x, s["busy"], where="post", color="black", lw=0.8, label="admitted cores")
        top.set_ylim(0, peak * 1.05 or 1)
        top.set_title(f"{mode}: cost {sum(o.cost_by_flavor.values()):,.0f} {o.currency}")
        top.set_ylabel("cores")
        top.legend(loc="upper right", fontsize=7)
        bottom.step(x, s["pending"], where="post", color="tab:red")
        bottom.set_ylim(0, queued * 1.05 or 1)
        bottom.set_ylabel("queued cores")
        bottom.set_xlabel("hour of day (UTC)")
        for desk, deadline in o.desk_deadlines.items():
            for ax in (top, bottom):
                ax.axvline(deadline / 3600.0, color="grey", ls="--", lw=0.6)
            top.annotate(desk, (deadline / 3600.0, peak * 0.02), fontsize=6, rotation=90)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
