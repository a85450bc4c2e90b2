# Metrics, comparison tables, figures and the cross-dataset summary.


rule evaluate:
    input:
        scores=lambda wc: expand(
            "results/{dataset}/scores/{method}_seed{seed}.parquet", dataset=wc.dataset, method=METHODS, seed=SEEDS
        ),
        config="results/config.json",
    output:
        metrics="results/{dataset}/metrics.json",
        table="results/{dataset}/table.md",
        csv="results/{dataset}/table.csv",
    log:
        "logs/{dataset}/evaluate.log",
    benchmark:
        "results/benchmarks/{dataset}/evaluate.tsv"
    params:
        prefix=lambda wc, output: output.table[: -len(".md")],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v evaluate {input.scores} --config {input.config} --table {params.prefix} "
        "-o {output.metrics} > {log} 2>&1"


rule plot:
    # local (also as a module, where a localrules list would name the unprefixed rules)
    localrule: True
    input:
        scores=lambda wc: expand(
            "results/{dataset}/scores/{method}_seed{seed}.parquet", dataset=wc.dataset, method=METHODS, seed=SEEDS
        ),
        models=lambda wc: expand(
            "results/{dataset}/models/{method}_seed{seed}",
            dataset=wc.dataset,
            method=[m for m in METHODS if m in ("vae", "aa-vae")],
            seed=SEEDS[:1],
        ),
        test="results/{dataset}/features/test.parquet",
        config="results/config.json",
    output:
        plots=report(
            directory("results/{dataset}/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="{dataset}",
        ),
    log:
        "logs/{dataset}/plot.log",
    benchmark:
        "results/benchmarks/{dataset}/plot.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v plot {input.scores} {input.models} --features {input.test} --config {input.config} "
        "-o {output.plots} > {log} 2>&1"


rule summary:
    # local (also as a module, where a localrules list would name the unprefixed rules)
    localrule: True
    input:
        tables=expand("results/{dataset}/table.md", dataset=DATASETS),
    output:
        summary=report("results/summary.md", caption="../report/summary.rst", category="summary"),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa summary {input.tables} -o {output.summary} > {log} 2>&1"


rule coffea_score_vh:
    input:
        model=W.coffea_model(config),
        events=expand(
            "results/vh/events/{sample}_chunk{chunk}.root",
            sample=W.VH_SAMPLES,
            chunk=range(config["datasets"]["vh"]["chunks"]),
        ),
    output:
        hists="results/vh/coffea_hists.root",
    log:
        "logs/vh/coffea_score.log",
    benchmark:
        "results/benchmarks/vh/coffea_score.tsv"
    params:
        fileset=lambda wc, input: W.coffea_fileset(input.events),
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v coffea-score {input.model} {params.fileset} --executor futures --workers {threads} "
        "-o {output.hists} > {log} 2>&1"
