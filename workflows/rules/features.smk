# Feature tables (one hep-aa features call per sample) and the stratified train/test split.


rule features_lhco:
    input:
        events="results/lhco/events/{sample}.h5",
    output:
        table="results/lhco/features/{sample}.parquet",
    log:
        "logs/lhco/features_{sample}.log",
    benchmark:
        "results/benchmarks/lhco/features_{sample}.tsv"
    wildcard_constraints:
        sample="qcd|signal|unseen",
    params:
        feature_set=config["features"]["lhco_set"],
        chunk_size=config["features"]["chunk_size"],
        signal_type=lambda wc: W.LHCO_TYPES.get(wc.sample, "background"),
    priority: 40
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features lhco {input.events} --set {params.feature_set} "
        "--chunk-size {params.chunk_size} --signal-type {params.signal_type} -o {output.table} > {log} 2>&1"


rule features_lhco_file:
    # one job per event range of the user's file (features.events_per_job), each on `threads`
    # cores; the split concatenates the parts in order
    input:
        events=config["datasets"]["lhco"]["path"] or "results/lhco/events/user-file-not-set.h5",
    output:
        table="results/lhco/features/all_part{part}.parquet",
    log:
        "logs/lhco/features_all_part{part}.log",
    benchmark:
        "results/benchmarks/lhco/features_all_part{part}.tsv"
    wildcard_constraints:
        part=r"\d+",
    params:
        feature_set=config["features"]["lhco_set"],
        chunk_size=config["features"]["chunk_size"],
        signal_type=W.LHCO_TYPES["signal"],
        event_range=lambda wc: W.lhco_range_args(config, int(wc.part)),
    threads: 2
    resources:
        mem_mb=1500,
        runtime=30,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features lhco {input.events} {params.event_range} --set {params.feature_set} "
        "--chunk-size {params.chunk_size} --signal-type {params.signal_type} --workers {threads} "
        "-o {output.table} > {log} 2>&1"


rule features_vh:
    input:
        events=lambda wc: expand(
            "results/vh/events/{sample}_chunk{chunk}.root",
            sample=wc.sample,
            chunk=range(config["datasets"]["vh"]["chunks"]),
        ),
    output:
        table="results/vh/features/{sample}.parquet",
    log:
        "logs/vh/features_{sample}.log",
    benchmark:
        "results/benchmarks/vh/features_{sample}.tsv"
    wildcard_constraints:
        sample="sm|smeft|unseen",
    params:
        args=lambda wc: W.vh_feature_args(wc.sample),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features vh {input.events} {params.args} -o {output.table} > {log} 2>&1"


rule features_vh_file:
    input:
        events=config["datasets"]["vh"]["path"] or "results/vh/events/user-file-not-set.root",
    output:
        table="results/vh/features/all.parquet",
    log:
        "logs/vh/features_all.log",
    benchmark:
        "results/benchmarks/vh/features_all.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features vh {input.events} -o {output.table} > {log} 2>&1"


rule features_mnist:
    output:
        table="results/mnist/features/all.parquet",
    log:
        "logs/mnist/features.log",
    benchmark:
        "results/benchmarks/mnist/features.tsv"
    params:
        args=W.mnist_args(config) if "mnist" in DATASETS else "",
        seed=SEEDS[0],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features mnist {params.args} --seed {params.seed} -o {output.table} > {log} 2>&1"


rule features_cicids:
    input:
        csv=config["datasets"]["cicids"]["path"] or "results/cicids/path-not-set",
    output:
        table="results/cicids/features/all.parquet",
    log:
        "logs/cicids/features.log",
    benchmark:
        "results/benchmarks/cicids/features.tsv"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v features cicids {input.csv} -o {output.table} > {log} 2>&1"


rule split:
    input:
        tables=lambda wc: W.split_inputs(config, wc.dataset),
    output:
        train="results/{dataset}/features/train.parquet",
        test="results/{dataset}/features/test.parquet",
    log:
        "logs/{dataset}/split.log",
    benchmark:
        "results/benchmarks/{dataset}/split.tsv"
    params:
        fraction=config["evaluation"]["test_fraction"],
        seed=SEEDS[0],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v split {input.tables} --test-fraction {params.fraction} --seed {params.seed} "
        "--train {output.train} --test {output.test} > {log} 2>&1"
