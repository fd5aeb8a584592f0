"""Standard vs depthwise-separable convolutions: the same builder, data and budget, both kinds.

    python recipes/standard_vs_separable.py --builder mobilenet_v2 --alpha 0.5 --resolution 64

Trains one run per kind (OUT/<kind>/), exports each with --quant, and prints one table:
parameters, MACs, training time, Keras accuracy and the TFLite accuracy of every bundle.
"""

import sys

from mobilekit.cli import flags
from mobilekit.cli import recipes as ra
from mobilekit.nets.cost import keras_summary


def main(args) -> int:
    modes = args.quant
    config, strategy, data = ra.setup(args, alpha=0.5, resolution=64)
    rows = []
    for kind in args.kinds:
        variant = config.replace(kind=kind)
        model, run = ra.build_and_train(args, variant, data, strategy=strategy,
                                        run_dir=f"{args.out}/{variant.kind_label}")
        summary = keras_summary(model)
        manifests = ra.export_all(args, model, data, variant, modes, strategy=strategy)
        rows.append((variant.kind_label, summary, run, manifests))

    print(f"\n{'kind':<16} {'params':>9} {'MMACs':>8} {'train s':>8} {'val':>6} {'test':>6}  "
          + "  ".join(f"{q:>8}" for q in modes), file=sys.stderr)
    for kind, summary, run, manifests in rows:
        m = run["metrics"]
        tflite = "  ".join(f"{100 * x['verification']['tflite_accuracy']:7.1f}%" for x in manifests)
        print(f"{kind:<16} {summary['params']:>9,} {summary['macs'] / 1e6:>8.1f} "
              f"{m['train_seconds']:>8.0f} {100 * m['val_accuracy']:5.1f}% "
              f"{100 * m.get('test_accuracy', float('nan')):5.1f}%  {tflite}", file=sys.stderr)
    return 0


def parser():
    p = ra.parser(__doc__.split("\n")[0], out="runs/standard_vs_separable", epochs=20)
    p.add_argument("--kinds", type=flags.kind_list, default=["standard", "separable"],
                   help="comma separated conv kinds or per-stage codes such as SSDDDDD")
    return p


if __name__ == "__main__":
    sys.exit(ra.run(main, parser()))
