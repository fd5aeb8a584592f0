"""Train any builder and conv kind on your image folder (one sub-folder per class), then export.

    python recipes/image_folder.py --data photos/ --builder mobilenet_v2 --alpha 0.5 \
        --resolution 128 --kind separable --epochs 20 --quant fp32,int8

Labels are the sorted sub-folder names (written to RUN/labels.txt and every bundle). Without
--data the embedded generated dataset is used; --tfds NAME takes a TFDS dataset instead.
"""

import sys

from mobilekit.cli import recipes as ra


def main(args) -> int:
    config, strategy, data = ra.setup(args, alpha=0.5, resolution=96)
    model, run = ra.build_and_train(args, config, data, strategy=strategy)
    print(f"run {args.out}: val accuracy {run['metrics']['val_accuracy']:.3f}", file=sys.stderr)
    ra.export_all(args, model, data, config, args.quant, strategy=strategy)
    return 0


def parser():
    return ra.parser(__doc__.split("\n")[0], out="runs/image_folder", epochs=20)


if __name__ == "__main__":
    sys.exit(ra.run(main, parser()))
