# Training of every method and seed on the train split, scoring of the test split.


rule train:
    input:
        train="results/{dataset}/features/train.parquet",
        config="results/config.json",
    output:
        model=directory("results/{dataset}/models/{method}_seed{seed}"),
    log:
        "logs/{dataset}/train_{method}_seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/train_{method}_seed{seed}.tsv"
    wildcard_constraints:
        method="|".join(METHODS),
        seed=r"\d+",
    params:
        known=lambda wc: W.train_args(config, wc.dataset),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=W.train_gpus(config),
    conda:
        # CUDA build of torch when training.device names a CUDA device, CPU build otherwise
        f"../../envs/{W.train_env(config)}"
    shell:
        "hep-aa -v train --features {input.train} {params.known} --method {wildcards.method} --threads {threads} "
        "--config {input.config} --seed {wildcards.seed} -o {output.model} > {log} 2>&1"


rule score:
    input:
        model="results/{dataset}/models/{method}_seed{seed}",
        test="results/{dataset}/features/test.parquet",
    output:
        scores="results/{dataset}/scores/{method}_seed{seed}.parquet",
    log:
        "logs/{dataset}/score_{method}_seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/score_{method}_seed{seed}.tsv"
    wildcard_constraints:
        method="|".join(METHODS),
        seed=r"\d+",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v score {input.model} {input.test} --threads {threads} -o {output.scores} > {log} 2>&1"
