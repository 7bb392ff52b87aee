"""An EPE/ENE/PFE chart per netting set (matplotlib, imported only when a chart is asked for)."""

from __future__ import annotations

from pathlib import Path

from riskgrid.grid.exposure import ExposureRun


def write_chart(path: str | Path, run: ExposureRun, base: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(run.netting_sets)
    fig, axes = plt.subplots(n, 1, figsize=(8, 3.2 * n), squeeze=False)
    for ax, ns in zip(axes[:, 0], run.netting_sets, strict=True):
        p = ns.profile
        ax.plot(p.times, p.epe, label="EPE (discounted)")
        ax.plot(p.times, -p.ene, label="−ENE (discounted)")
        for q, v in p.pfe.items():
            ax.plot(p.times, v, linestyle="--", label=f"PFE {q:.0%}")
        ax.set_title(f"{ns.name} ({ns.counterparty}) — CVA {ns.cva:,.0f} {base}")
        ax.set_xlabel("years")
        ax.set_ylabel(base)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
