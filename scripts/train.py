import torch

from vmaf_predictor.stage import logged_to
from vmaf_predictor.train import train_table

# Tensors this small run faster on one thread (and the bytes never depend on it).
torch.set_num_threads(1)

with logged_to(snakemake.log[0]) as log:
    model = train_table(
        snakemake.wildcards.codec,
        snakemake.input.table,
        snakemake.params.settings,
        snakemake.output[0],
    )
    log.info(
        "%s: %d train / %d held out, final loss %.4f, held-out %s",
        model.codec,
        model.n_train,
        model.n_holdout,
        model.loss_curve[-1],
        ", ".join(f"{k} {v:.4f}" for k, v in sorted(model.metrics.items())),
    )
