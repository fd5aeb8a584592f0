"""Pruning for XNNPACK's sparse inference: float training, then magnitude pruning of the 1x1
convolutions with tfmot's PruneForLatencyOnXNNPack policy, strip_pruning, sparse fp32 export.

    python recipes/prune_xnnpack.py --builder mobilenet_v2 --alpha 0.5 --sparsity 0.75

The builder defaults to --padding symmetric, the stem and stride-2 form the policy (and XNNPACK's
sparse subgraph) requires; a model it refuses (e.g. MobileNetV3's hard-swish) has its 1x1 convs
pruned directly (run.json "pruning_policy": "1x1"). The bundle stores the zeros in TFLite's
sparse format, which is what makes XNNPACK try its sparse kernels. They pay off on ARM; on x86 no
speed-up is expected. The measured sparsity goes into run.json and the bundle manifest; the
bundle name ends in -sparse.
"""

import sys

from mobilekit.cli import recipes as ra
from mobilekit.train.run_dir import load_keras, update_run
from mobilekit.train.strategy import scope
from mobilekit.train.prune import measured_sparsity, prune_for_xnnpack, pruning_callbacks, strip
from mobilekit.train.loop import train, writes_run


def main(args) -> int:
    config, strategy, data = ra.setup(args, alpha=0.5, resolution=64, padding="symmetric")
    float_model, config = ra.float_model(args, config, data, strategy)
    with scope(strategy):
        pruned, how = prune_for_xnnpack(float_model, sparsity=args.sparsity)
    run = train(pruned, data.train, data.val, test=data.test, run_dir=f"{args.out}/pruned",
                labels=data.labels, epochs=args.prune_epochs, batch_size=args.batch_size,
                seed=args.seed, builder=config, dataset_info=data.info, resume=args.resume,
                strategy=strategy, learning_rate=args.prune_learning_rate, warmup_epochs=0,
                callbacks=pruning_callbacks(), finalize=strip, run_info={"pruned": True})
    if not writes_run(strategy):
        return 0  # a non-chief worker: the chief wrote the run and exports it
    stripped = load_keras(f"{args.out}/pruned")
    sparsity = measured_sparsity(stripped)
    update_run(f"{args.out}/pruned", sparsity=round(sparsity, 4), pruning_policy=how)
    print(f"pruned run {args.out}/pruned: val accuracy {run['metrics']['val_accuracy']:.3f}, "
          f"1x1 kernel sparsity {sparsity:.3f}", file=sys.stderr)
    ra.export_all(args, stripped, data, config, args.quant, sparsity=round(sparsity, 4))
    return 0


def parser():
    p = ra.parser(__doc__.split("\n")[0], out="runs/prune_xnnpack", epochs=20)
    p.set_defaults(quant="fp32")
    p.add_argument("--sparsity", type=float, default=0.75,
                   help="target sparsity of the 1x1 convolutions (XNNPACK needs >= 2/3)")
    p.add_argument("--prune-epochs", type=int, default=3, help="pruning fine-tune epochs")
    p.add_argument("--prune-learning-rate", type=float, default=1e-3)
    p.add_argument("--float-run", default=None, help="start from this trained float run directory")
    return p


if __name__ == "__main__":
    sys.exit(ra.run(main, parser()))
