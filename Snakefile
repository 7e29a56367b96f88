# Behavioral-entropy datasets -> offline RL, coverage analyses, distillation -> reports.  See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# One rule file per stage, each the workflow of one subpackage of berl.
include: "workflow/rules/common.smk"
include: "workflow/rules/explore.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/offline.smk"
include: "workflow/rules/coverage.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/reports.smk"


rule all:
    input:
        "reports/reproduction.pdf",
        "reports/reproduction.md",
        "reports/table1.pdf",
        "reports/fig4_alpha_q_sweep.pdf",
        "reports/fig_learning_curves.pdf",
        "reports/iqm.pdf",
        "reports/table_coverage.pdf",
        "reports/fig_coverage_tsne.pdf",
        "reports/fig_coverage_phate.pdf",
        "reports/fig_coverage_vs_return.pdf",
        "reports/fig_estimator_accuracy.pdf",
        "reports/table2_obd.pdf",
        "reports/fig_obd_size.pdf",
        "reports/fig_obd_convergence.pdf",
        # OBD's own benchmark, when D4RL data is present (README, "D4RL")
        ["reports/table_obd_d4rl.pdf"] if D4RL_DATASETS else [],
    default_target: True
