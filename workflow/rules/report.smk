REPORT_PROVENANCE = f"--preset {PRESET} --config-hash {CONFIG_HASH}"


rule aggregate:
    input:
        evaluation_files,
    output:
        f"{RESULTS}/returns.csv",
    params:
        datasets=datasets_json,
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl aggregate --out {output} --datasets '{params.datasets}' {input}"
        " > {log} 2>&1"


rule table1:
    input:
        f"{RESULTS}/returns.csv",
    output:
        pdf=report("reports/table1.pdf", caption="../report/table1.rst", category="Offline RL"),
        csv="reports/table1.csv",
        full_csv="reports/table1_full.csv",
        fair_csv="reports/table1_fair.csv",
        tex="reports/table1.tex",
    params:
        tasks=" ".join(TASKS),
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/table1.log",
    benchmark:
        f"{BENCH}/table1.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table1 --returns {input} --tasks {params.tasks}"
        " --out-prefix reports/table1 {params.provenance} > {log} 2>&1"


rule fig4:
    input:
        f"{RESULTS}/returns.csv",
    output:
        report("reports/fig4_alpha_q_sweep.pdf", caption="../report/fig4.rst", category="Offline RL"),
    params:
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/fig4.log",
    benchmark:
        f"{BENCH}/fig4.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig4 --returns {input} --out {output} {params.provenance} > {log} 2>&1"


rule learning_curves:
    input:
        evaluation_files,
    output:
        report("reports/fig_learning_curves.pdf", caption="../report/learning_curves.rst",
               category="Offline RL"),
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/learning_curves.log",
    benchmark:
        f"{BENCH}/learning_curves.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl learning-curves --datasets '{params.datasets}' --out {output}"
        " {params.provenance} {input} > {log} 2>&1"


rule iqm:
    input:
        f"{RESULTS}/returns.csv",
    output:
        pdf=report("reports/iqm.pdf", caption="../report/iqm.rst", category="Offline RL"),
        csv="reports/iqm.csv",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/iqm.log",
    benchmark:
        f"{BENCH}/iqm.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl iqm --returns {input} --out-prefix reports/iqm {params.provenance}"
        " > {log} 2>&1"


rule reproduction:
    """The claim scorecard: each published claim, its measured value and interval, a verdict."""
    input:
        returns=f"{RESULTS}/returns.csv",
        coverage=coverage_files,
        distilled=distill_files,
        baselines=distill_baseline_files,
        sizes=distill_size_files,
    output:
        md="reports/reproduction.md",
        pdf=report("reports/reproduction.pdf", caption="../report/reproduction.rst", category="Reproduction"),
    params:
        tasks=" ".join(TASKS),
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/reproduction.log",
    benchmark:
        f"{BENCH}/reproduction.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl reproduction --returns {input.returns} --tasks {params.tasks}"
        " --coverage {input.coverage} --distilled {input.distilled} --baselines {input.baselines}"
        " --sizes {input.sizes} --out-prefix reports/reproduction {params.provenance} > {log} 2>&1"
