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
        "reports/fig4_alpha_q_sweep.pdf",
        "reports/fig_learning_curves.pdf",
        "reports/iqm.pdf",
    default_target: True
