# Pythia 8 generation of LHCO-like samples in parallel chunks, then merged.


rule generate_lhco_chunk:
    output:
        events=temp("results/lhco/events/{sample}_chunk{chunk}.h5"),
    log:
        "logs/lhco/generate_{sample}_chunk{chunk}.log",
    benchmark:
        "results/benchmarks/lhco/generate_{sample}_chunk{chunk}.tsv"
    wildcard_constraints:
        sample="qcd|signal|unseen",
        chunk=r"\d+",
    params:
        args=lambda wc: W.lhco_sample_args(config, wc.sample, int(wc.chunk)),
        seed=lambda wc: W.lhco_chunk_seed(config, wc.sample, int(wc.chunk)),
    # the longest chain (generation -> merge -> features -> training): start it first
    priority: 50
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v generate lhco {params.args} --seed {params.seed} -o {output.events} > {log} 2>&1"


rule merge_lhco:
    input:
        chunks=lambda wc: expand(
            "results/lhco/events/{sample}_chunk{chunk}.h5",
            sample=wc.sample,
            chunk=range(config["datasets"]["lhco"]["chunks"]),
        ),
    output:
        events="results/lhco/events/{sample}.h5",
    log:
        "logs/lhco/merge_{sample}.log",
    benchmark:
        "results/benchmarks/lhco/merge_{sample}.tsv"
    wildcard_constraints:
        sample="qcd|signal|unseen",
    priority: 45
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v generate merge-lhco {input.chunks} -o {output.events} > {log} 2>&1"


rule generate_vh_chunk:
    output:
        events="results/vh/events/{sample}_chunk{chunk}.root",
    log:
        "logs/vh/generate_{sample}_chunk{chunk}.log",
    benchmark:
        "results/benchmarks/vh/generate_{sample}_chunk{chunk}.tsv"
    wildcard_constraints:
        sample="sm|smeft|unseen",
        chunk=r"\d+",
    params:
        args=lambda wc: W.vh_sample_args(config, wc.sample, int(wc.chunk)),
        seed=lambda wc: W.vh_chunk_seed(config, wc.sample, int(wc.chunk)),
    priority: 30
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../../envs/hep-aa.yaml"
    shell:
        "hep-aa -v generate vh {params.args} --seed {params.seed} -o {output.events} > {log} 2>&1"
