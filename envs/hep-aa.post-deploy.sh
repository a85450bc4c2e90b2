#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment of envs/hep-aa.yaml, once, after creating
# it. Installs hep_aa (editable, so it follows the checkout) with the extras the rules use
# from HEP_AA_SOURCE, which the Snakefile sets to its own directory.
# Built for hep_aa 0.1.0: this line changes with the version, so Snakemake builds a fresh
# environment (its hash covers this file) when the dependencies may have changed.
set -euo pipefail
src="${HEP_AA_SOURCE:?is set by the hep_aa Snakefile to its checkout, run this through snakemake}"
if [ ! -f "$src/pyproject.toml" ]; then
    echo "hep_aa post-deploy: $src holds no pyproject.toml; --sdm conda needs the workflow as a local checkout" >&2
    exit 1
fi
python -m pip install --no-input --disable-pip-version-check -e "$src[generate,coffea,plot]"
hep-aa --version
