# Training and scoring: one job per dataset and seed trains every method and scores the test
# split (one interpreter start per job; the VAE methods share their stage-1 pretraining).
# Each method's model folder and score table is its own output, so a rerun is per seed.


rule train:
    input:
        train="results/{dataset}/features/train.parquet",
        test="results/{dataset}/features/test.parquet",
        config="results/config.json",
    output:
        models=[directory(p) for p in expand("results/{{dataset}}/models/{method}_seed{{seed}}", method=METHODS)],
        scores=expand("results/{{dataset}}/scores/{method}_seed{{seed}}.parquet", method=METHODS),
    log:
        "logs/{dataset}/train_seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/train_seed{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    params:
        known=lambda wc: W.train_args(config, wc.dataset),
        methods=" ".join(f"--method {m}" for m in METHODS),
        # {method} templates beside the outputs (so a module's prefix applies too)
        model=lambda wc, output: os.path.join(os.path.dirname(output.models[0]), f"{{method}}_seed{wc.seed}"),
        scores=lambda wc, output: os.path.join(
            os.path.dirname(output.scores[0]), f"{{method}}_seed{wc.seed}.parquet"
        ),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=W.train_gpus(config),
    conda:
        # CUDA build of torch when training.device names a CUDA device, CPU build otherwise
        f"../../envs/{W.train_env(config)}"
    shell:
        "hep-aa -v train --features {input.train} {params.known} {params.methods} --threads {threads} "
        "--config {input.config} --seed {wildcards.seed} -o '{params.model}' "
        "--score-features {input.test} --scores '{params.scores}' > {log} 2>&1"
