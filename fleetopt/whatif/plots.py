"""Plots (matplotlib, no pyplot state): the Pareto front, which families bind across a sweep, and the
fleet-law breakdown of each training job. Each returns the Figure and writes a PNG when given a path."""

from __future__ import annotations

from pathlib import Path


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path: str | Path | None):
    if path is not None:
        import io

        from fleetopt.io.output import write_bytes_atomic

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        write_bytes_atomic(path, buf.getvalue())
    return fig


def plot_pareto(front, path: str | Path | None = None, runs=None, title: str = "Cost against carbon"):
    """The front (cost in millions of USD against t CO2e), the knee marked; `runs` adds every epsilon solve
    in grey, so dominated and repeated plans show too."""
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    if runs is not None and len(runs):
        ok = runs["carbon_t"].notna()
        ax.scatter(runs.loc[ok, "carbon_t"], runs.loc[ok, "cost_usd"] / 1e6, s=18, color="0.75",
                   label="epsilon solves", zorder=1)
    ax.plot(front["carbon_t"], front["cost_usd"] / 1e6, "o-", color="tab:blue", label="Pareto front", zorder=2)
    knee = front[front["knee"]] if "knee" in front else front.iloc[0:0]
    if len(knee):
        ax.scatter(knee["carbon_t"], knee["cost_usd"] / 1e6, s=140, facecolors="none", edgecolors="tab:red",
                   linewidths=2, label="knee", zorder=3)
        row = knee.iloc[0]
        ax.annotate(f"knee: {row['carbon_t']:.3g} t, ${row['cost_usd'] / 1e6:.3g}M",
                    (row["carbon_t"], row["cost_usd"] / 1e6), textcoords="offset points", xytext=(10, 10))
    ax.set_xlabel("carbon over the horizon (t CO2e)")
    ax.set_ylabel("cost over the horizon (million USD)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def binding_matrix(frame):
    """Scenarios x constraint families: 1 where the family has a binding row in that scenario's plan."""
    import pandas as pd

    families = sorted({f for text in frame["binding"] for f in str(text).split(";") if f})
    data = [[int(f in str(text).split(";")) for f in families] for text in frame["binding"]]
    return pd.DataFrame(data, index=list(frame["scenario"]), columns=families)


def plot_binding_heatmap(frame, path: str | Path | None = None, title: str = "Binding constraint families"):
    """Which constraint families bind in each scenario of a sweep (rows: scenarios; dark: binding)."""
    matrix = binding_matrix(frame)
    rows, cols = matrix.shape
    label_in = 0.075 * max((len(str(i)) for i in matrix.index), default=4)  # room for the scenario names
    fig = _figure(max(5.0, 1.5 + label_in + 0.6 * cols), max(2.5, 1.6 + 0.28 * rows))
    ax = fig.add_subplot()
    if cols:
        ax.imshow(matrix.to_numpy(), aspect="auto", cmap="Blues", vmin=0, vmax=1.25, interpolation="nearest")
    ax.set_xticks(range(cols), matrix.columns, rotation=40, ha="right")
    ax.set_yticks(range(rows), matrix.index)
    ax.tick_params(axis="y", labelsize=7 if rows > 20 else 9)
    ax.set_title(title)
    return _save(fig, path)


FLEET_LAW_TERMS = (("compute", "tab:blue"), ("communication", "tab:orange"), ("pipeline bubble", "tab:purple"),
                   ("synchronization", "tab:red"))


def plot_fleet_law(plan, path: str | Path | None = None, title: str = "Fleet law per training job"):
    """Each job's step time by the fleet law T = compute + comm + sync - overlap: the terms stacked, the
    overlap hatched back from the end, the binding C3 term named."""
    jobs = sorted(plan.training)
    fig = _figure(7.0, 1.2 + 0.6 * max(1, len(jobs)))
    ax = fig.add_subplot()
    for y, job in enumerate(jobs):
        d = plan.training[job]
        b = d.breakdown
        parts = (b.compute_s, max(b.comm_s - b.bubble_s, 0.0), b.bubble_s, b.sync_s)
        left = 0.0
        for (name, color), width in zip(FLEET_LAW_TERMS, parts):
            ax.barh(y, width, left=left, color=color, label=name if y == 0 else None)
            left += width
        if b.overlap_s > 0:
            ax.barh(y, -b.overlap_s, left=left, color="none", edgecolor="k", hatch="//",
                    label="overlap (subtracted)" if y == 0 else None)
        ax.text(left * 1.01, y, f" {d.step_time_s:.2f} s, {d.binding_term}", va="center", fontsize=8)
    ax.set_yticks(range(len(jobs)), jobs)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per step")
    ax.set_title(title)
    ax.margins(x=0.25)
    if jobs:
        ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
