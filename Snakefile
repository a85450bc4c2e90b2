# hep_aa workflow: events -> features -> training (each method, each seed) -> scores ->
# metrics -> plots -> summary.  Run `snakemake --cores 2` on the embedded default
# (workflows/config.yaml) plus your `--configfile` overrides; see README.md for SLURM, the
# real datasets and the use of this workflow as a Snakemake module.
import os

from snakemake.utils import min_version

import hep_aa.workflow as W

min_version("8.20")


# Relative to this file, so the workflow runs from any working directory. As a module
# (`module hep_aa: ... config: config["hep_aa"]`), Snakemake skips this and the host's
# nested config is the override.
# This file's folder (the hep_aa checkout), also when it is a module of another workflow.
HERE = W.snakefile_dir(workflow)
DEFAULT_CONFIG = os.path.join(HERE, "workflows", "config.yaml")


configfile: DEFAULT_CONFIG


# What the rules get is Snakemake's own merged config (default, --configfile, --config),
# validated (an error names the user's file and key) and default-filled in place. As a
# module, the host's files are not ours: only the nested config it passes is checked.
config.update(W.resolve(config, W.own_configfiles(workflow.configfiles, DEFAULT_CONFIG)))
DATASETS = W.datasets(config)
METHODS = config["methods"]
SEEDS = config["seeds"]
# The conda environments' post-deploy script installs hep_aa from this checkout.
os.environ.setdefault("HEP_AA_SOURCE", HERE)


rule resolved_config:
    localrule: True
    output:
        config="results/config.json",
    log:
        "logs/resolved_config.log",
    params:
        # a change of any setting (file or --config) changes this and reruns the rule
        resolved=W.config_json(config),
    run:
        W.write_config(config, output.config, log=log[0])


include: "workflows/rules/generate.smk"
include: "workflows/rules/features.smk"
include: "workflows/rules/train.smk"
include: "workflows/rules/evaluate.smk"


rule all:
    localrule: True
    input:
        W.targets(config),
    default_target: True
