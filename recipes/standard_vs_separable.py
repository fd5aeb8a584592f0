"""Standard vs depthwise-separable convolutions: the same builder, data and budget, both kinds.

    python recipes/standard_vs_separable.py --builder mobilenet_v2 --alpha 0.5 --resolution 64

Trains one run per kind (OUT/<kind>/), exports each with --quant, and prints one table:
parameters, MACs, training time, Keras accuracy and the TFLite accuracy of every bundle.
"""

import sys

from mobilekit.train import recipe as ra
from mobilekit.nets.cost import keras_summary


def main(args) -> int:
    modes = ra.quant_modes(args)
    resolution = args.resolution or 64
    strategy = ra.make_strategy(args.strategy)  # first: multi-worker sets up collectives
    data = ra.load_data(args, resolution)
    rows = []
    for kind in [k.strip() for k in args.kinds.split(",")]:
        args.kind = kind
        model, config, run = ra.build_and_train(
            args, data, run_dir=f"{args.out}/{kind}", strategy=strategy,
            model_defaults={"alpha": 0.5, "resolution": resolution})
        summary = keras_summary(model)
        manifests = ra.export_all(args, model, data, config, modes, strategy=strategy)
        rows.append((kind, summary, run, manifests))

    print(f"\n{'kind':<10} {'params':>9} {'MMACs':>8} {'train s':>8} {'val':>6} {'test':>6}  "
          + "  ".join(f"{q:>8}" for q in modes), file=sys.stderr)
    for kind, summary, run, manifests in rows:
        m = run["metrics"]
        tflite = "  ".join(f"{100 * x['verification']['tflite_accuracy']:7.1f}%" for x in manifests)
        print(f"{kind:<10} {summary['params']:>9,} {summary['macs'] / 1e6:>8.1f} "
              f"{m['train_seconds']:>8.0f} {100 * m['val_accuracy']:5.1f}% "
              f"{100 * m.get('test_accuracy', float('nan')):5.1f}%  {tflite}", file=sys.stderr)
    return 0


def parser():
    p = ra.parser(__doc__.split("\n")[0], out="runs/standard_vs_separable", epochs=20)
    p.add_argument("--kinds", default="standard,separable", help="comma separated conv kinds")
    return p


if __name__ == "__main__":
    sys.exit(ra.run(main, parser()))
