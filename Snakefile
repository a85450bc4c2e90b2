# hep_aa workflow: events -> features -> training (each method, each seed) -> scores ->
# metrics -> plots -> summary.  Run `snakemake --cores 2` on the embedded default
# (workflows/config.yaml); see README.md for SLURM and the real datasets.
from snakemake.utils import min_version, validate

import hep_aa.workflow as W

min_version("8.20")


configfile: "workflows/config.yaml"


validate(config, W.schema_path())
config = W.resolve(config)
DATASETS = W.datasets(config)
METHODS = config["methods"]
SEEDS = config["seeds"]


localrules:
    all,
    resolved_config,
    plot,
    summary,


rule resolved_config:
    input:
        configfiles=workflow.configfiles,
    output:
        config="results/config.json",
    log:
        "logs/resolved_config.log",
    benchmark:
        "results/benchmarks/resolved_config.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "envs/hep-aa.yaml"
    shell:
        "hep-aa config show {input.configfiles} -o {output.config} > {log} 2>&1"


include: "workflows/rules/generate.smk"
include: "workflows/rules/features.smk"
include: "workflows/rules/train.smk"
include: "workflows/rules/evaluate.smk"


rule all:
    input:
        W.targets(config),
    default_target: True
