# Behavioral-entropy datasets -> offline RL -> reports.  See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/collect.smk"
include: "workflow/rules/relabel.smk"
include: "workflow/rules/offline.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "reports/table1.pdf",
        "reports/table1.csv",
        "reports/table1.tex",
    default_target: True
