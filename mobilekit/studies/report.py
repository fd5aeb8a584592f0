"""The standard-vs-separable comparison: one table, report.md and plots.

``quickstart`` and ``compare`` both end here, so the numbers users see are computed one way.
A *variant* is one bundle (builder x kind x quantization); its latency is the aggregate bench row.
Ratios are taken against the ``standard`` variant of the same quantization and target, as
"x fewer MACs" and "x faster", so the two columns read side by side: the gap between them is what
the hardware makes of the arithmetic.
"""

from __future__ import annotations

from pathlib import Path

from mobilekit.fsutil import atomic_write_text

COLUMNS = (
    ("variant", "variant"),
    ("target", "target"),
    ("params", "params"),
    ("macs", "MACs"),
    ("keras_accuracy", "acc Keras"),
    ("tflite_accuracy", "acc TFLite"),
    ("median_ms", "median ms"),
    ("ci95", "95% CI ms"),
    ("mac_saving", "MACs vs std"),
    ("analytic_saving", "analytic"),
    ("speedup", "speed vs std"),
    ("speedup_ci95", "95% CI"),
    ("gmacs", "GMAC/s"),
)


def variant_rows(manifests: list[dict], bench_rows: list[dict]) -> list[dict]:
    """Join bundle manifests with aggregate bench rows into one row per variant and target.

    ``manifests`` may carry an extra "analytic_macs_ratio" (separable or spatial MACs over standard
    MACs by the per-layer formulas) that the table shows beside the measured one.
    """
    by_name = {m["name"]: m for m in manifests}
    rows = []
    for bench in bench_rows:
        if bench.get("round") is not None or bench["name"] not in by_name:
            continue
        manifest = by_name[bench["name"]]
        builder = manifest.get("builder") or {}
        verification = manifest.get("verification") or {}
        row = {
            "variant": manifest["name"],
            "kind": builder.get("kind"),
            "quantization": manifest["quantization"],
            "target": bench["target"],
            "threads": bench.get("threads"),
            "params": manifest["params"],
            "macs": manifest["macs"],
            "keras_accuracy": verification.get("keras_accuracy"),
            "tflite_accuracy": verification.get("tflite_accuracy"),
            "error": bench.get("error"),
            "emulated": bench.get("emulated", False),
            "analytic_ratio": manifest.get("analytic_macs_ratio"),
        }
        if not bench.get("error"):
            row["median_ms"] = bench["median_ms"]
            row["ci95"] = bench["median_ci95_ms"]
            row["gmacs"] = manifest["macs"] / (bench["median_ms"] * 1e6)
        rows.append(row)
    _add_ratios(rows)
    return rows


def _add_ratios(rows: list[dict]) -> None:
    """Fill "x fewer MACs" and "x faster" against the standard variant of the same group."""
    def group(row):
        return (row["quantization"], row["target"], row["threads"])

    standards = {group(r): r for r in rows if r["kind"] == "standard"}
    for row in rows:
        std = standards.get(group(row))
        if std is None:
            continue
        row["mac_saving"] = std["macs"] / row["macs"]
        if row.get("analytic_ratio"):
            row["analytic_saving"] = 1.0 / row["analytic_ratio"]
        if row.get("median_ms") and std.get("median_ms"):
            row["speedup"] = std["median_ms"] / row["median_ms"]
            # Conservative: the ratio's ends from opposite ends of the two medians' 95 % CIs.
            row["speedup_ci95"] = [std["ci95"][0] / row["ci95"][1], std["ci95"][1] / row["ci95"][0]]


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in ("params", "macs"):
        return _si(value)
    if key.endswith("accuracy"):
        return f"{100 * value:.1f}%"
    if key == "ci95":
        return f"{value[0]:.3f}-{value[1]:.3f}"
    if key in ("mac_saving", "analytic_saving", "speedup"):
        return f"{value:.2f}x"
    if key == "speedup_ci95":
        return f"{value[0]:.2f}-{value[1]:.2f}x"
    if key == "median_ms":
        return f"{value:.3f}"
    if key == "gmacs":
        return f"{value:.1f}"
    return " ".join(str(value).split()).replace("|", "\\|")  # one Markdown cell, whatever the name


def _si(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def _target_label(row: dict) -> str:
    """The target's name, marked when its times are emulated (not latency)."""
    return f"{row['target']} (emulated)" if row.get("emulated") else row["target"]


def _row_cell(key: str, row: dict) -> str:
    """_cell, except for a failed row's latency and the target's label."""
    if key == "median_ms" and row.get("error"):
        return "error"
    if key == "target":
        return _target_label(row)
    return _cell(key, row.get(key))


def format_table(rows: list[dict]) -> str:
    """A Markdown table that also reads well on a terminal."""
    keys = [k for k, _ in COLUMNS if k != "analytic_saving" or any(r.get(k) for r in rows)]
    headers = [dict(COLUMNS)[k] for k in keys]
    cells = [[_row_cell(k, r) for k in keys] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(c) for c in cells)])


def plot(rows: list[dict], out_dir: Path) -> list[Path]:
    """latency_vs_macs.png (one point per variant) and latency.png (bars with 95 % CIs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in rows if r.get("median_ms")]
    if not timed:
        return []
    paths = [out_dir / "latency_vs_macs.png", out_dir / "latency.png"]

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in timed:
        ax.scatter(r["macs"] / 1e6, r["median_ms"], label=f"{r['variant']} ({_target_label(r)})")
        ax.annotate(r["variant"], (r["macs"] / 1e6, r["median_ms"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("MMACs")
    ax.set_ylabel("median latency (ms)")
    ax.set_title("Latency vs MACs")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(timed)), 4.5))
    medians = [r["median_ms"] for r in timed]
    errors = [[r["median_ms"] - r["ci95"][0] for r in timed],
              [r["ci95"][1] - r["median_ms"] for r in timed]]
    ax.bar(range(len(timed)), medians, yerr=errors, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(timed)))
    ax.set_xticklabels([f"{r['variant']}\n{_target_label(r)}" for r in timed], rotation=20,
                       ha="right", fontsize=7)
    ax.set_ylabel("median latency (ms), 95 % CI")
    ax.set_title("Latency per variant")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths


def write_report(out_dir: Path, title: str, rows: list[dict], notes: list[str]) -> Path:
    """Write report.md (table, notes, plots) into ``out_dir`` and return its path."""
    out_dir = Path(out_dir)
    plots = plot(rows, out_dir)
    emulated = any(r.get("emulated") for r in rows)
    parts = [f"# {title}", "", format_table(rows), "",
             "MACs vs std: how many times fewer multiply-accumulates than the standard variant of "
             "the same quantization; speed vs std: how many times faster its median latency is "
             "(its 95 % CI combines opposite ends of the two medians' CIs, so it is conservative). "
             "Latency is the median over all timed runs of interleaved rounds, with a "
             "distribution-free 95 % confidence interval.", ""]
    if emulated:
        parts += ["Targets marked (emulated) ran under qemu: their times are not latency and say "
                  "nothing about a real device.", ""]
    parts += [f"- {n}" for n in notes]
    parts += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(parts) + "\n")
    return path
