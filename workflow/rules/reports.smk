# Reports (berl.reports): the returns gathered, Table 1 and the offline RL figures, the
# coverage table and figures, Table 2 and the distillation figures, and the claim
# scorecard. They are cheap, so they run where Snakemake runs, never as cluster jobs.


localrules:
    aggregate,
    table1,
    fig4,
    learning_curves,
    iqm,
    table_coverage,
    fig_coverage,
    fig_coverage_vs_return,
    fig_estimator_accuracy,
    table2,
    fig_obd_size,
    fig_obd_convergence,
    table_obd_d4rl,
    reproduction,


rule aggregate:
    input:
        evaluation_files,
    output:
        f"{RESULTS}/returns.csv",
    params:
        datasets=datasets_json,
    log:
        log_file("aggregate"),
    benchmark:
        benchmark_file("aggregate")
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
        returns=f"{RESULTS}/returns.csv",
        random_reference=RANDOM_REFERENCE,
    output:
        pdf=report("reports/table1.pdf", caption="../report/table1.rst", category="Offline RL"),
        csv="reports/table1.csv",
        full_csv="reports/table1_full.csv",
        fair_csv="reports/table1_fair.csv",
        random_csv="reports/table1_random.csv",
        tex="reports/table1.tex",
    params:
        tasks=" ".join(TASKS),
        provenance=REPORT_PROVENANCE,
    log:
        log_file("table1"),
    benchmark:
        benchmark_file("table1")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table1 --returns {input.returns} --tasks {params.tasks}"
        " --random-reference {input.random_reference}"
        " --out-prefix reports/table1 {params.provenance} > {log} 2>&1"


rule fig4:
    input:
        returns=f"{RESULTS}/returns.csv",
        random_reference=RANDOM_REFERENCE,
    output:
        report("reports/fig4_alpha_q_sweep.pdf", caption="../report/fig4.rst", category="Offline RL"),
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig4"),
    benchmark:
        benchmark_file("fig4")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig4 --returns {input.returns} --random-reference {input.random_reference}"
        " --out {output} {params.provenance} > {log} 2>&1"


rule learning_curves:
    input:
        evaluations=evaluation_files,
        random_reference=RANDOM_REFERENCE,
    output:
        report("reports/fig_learning_curves.pdf", caption="../report/learning_curves.rst",
               category="Offline RL"),
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        log_file("learning_curves"),
    benchmark:
        benchmark_file("learning_curves")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl learning-curves --datasets '{params.datasets}' --out {output}"
        " --random-reference {input.random_reference} {params.provenance} {input.evaluations} > {log} 2>&1"


rule iqm:
    input:
        f"{RESULTS}/returns.csv",
    output:
        pdf=report("reports/iqm.pdf", caption="../report/iqm.rst", category="Offline RL"),
        csv="reports/iqm.csv",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("iqm"),
    benchmark:
        benchmark_file("iqm")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl iqm --returns {input} --out-prefix reports/iqm {params.provenance}"
        " > {log} 2>&1"


rule table_coverage:
    input:
        coverage=coverage_files,
        study=f"{RESULTS}/estimator_study.csv",
    output:
        pdf=report("reports/table_coverage.pdf", caption="../report/table_coverage.rst",
                   category="Coverage"),
        csv="reports/table_coverage.csv",
        tex="reports/table_coverage.tex",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("table_coverage"),
    benchmark:
        benchmark_file("table_coverage")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table-coverage --coverage {input.coverage} --study {input.study}"
        " --out-prefix reports/table_coverage"
        " {params.provenance} > {log} 2>&1"


rule fig_coverage:
    input:
        unpack(embedding_files),
    output:
        report("reports/fig_coverage_{method}.pdf", caption="../report/fig_coverage.rst",
               category="Coverage"),
    params:
        embeddings=lambda wc, input: named_paths(input),
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig_coverage_{method}"),
    benchmark:
        benchmark_file("fig_coverage_{method}")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-coverage --method {wildcards.method} --embeddings {params.embeddings}"
        " --datasets '{params.datasets}' --out {output} {params.provenance} > {log} 2>&1"


rule fig_coverage_vs_return:
    input:
        coverage=coverage_files,
        returns=f"{RESULTS}/returns.csv",
    output:
        pdf=report("reports/fig_coverage_vs_return.pdf", caption="../report/fig_coverage_vs_return.rst",
                   category="Coverage"),
        csv="reports/fig_coverage_vs_return.csv",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig_coverage_vs_return"),
    benchmark:
        benchmark_file("fig_coverage_vs_return")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-coverage-vs-return --coverage {input.coverage} --returns {input.returns}"
        " --out-prefix reports/fig_coverage_vs_return {params.provenance} > {log} 2>&1"


rule fig_estimator_accuracy:
    input:
        f"{RESULTS}/estimator_study.csv",
    output:
        report("reports/fig_estimator_accuracy.pdf", caption="../report/fig_estimator_accuracy.rst",
               category="Coverage"),
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig_estimator_accuracy"),
    benchmark:
        benchmark_file("fig_estimator_accuracy")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-estimator-accuracy --study {input} --out {output} {params.provenance}"
        " > {log} 2>&1"


rule table2:
    input:
        distilled=distill_files,
        baselines=distill_baseline_files,
    output:
        pdf=report("reports/table2_obd.pdf", caption="../report/table2_obd.rst", category="Distillation"),
        csv="reports/table2_obd.csv",
        tex="reports/table2_obd.tex",
        generalisation_csv="reports/table2_obd_generalisation.csv",
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        log_file("table2"),
    benchmark:
        benchmark_file("table2")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table2 --distilled {input.distilled} --baselines {input.baselines}"
        " --datasets '{params.datasets}' --out-prefix reports/table2_obd {params.provenance}"
        " > {log} 2>&1"


rule fig_obd_size:
    input:
        distill_size_files,
    output:
        report("reports/fig_obd_size.pdf", caption="../report/fig_obd_size.rst", category="Distillation"),
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig_obd_size"),
    benchmark:
        benchmark_file("fig_obd_size")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-obd-size --distilled {input} --datasets '{params.datasets}'"
        " --out {output} {params.provenance} > {log} 2>&1"


rule fig_obd_convergence:
    input:
        distill_files,
    output:
        report("reports/fig_obd_convergence.pdf", caption="../report/fig_obd_convergence.rst",
               category="Distillation"),
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("fig_obd_convergence"),
    benchmark:
        benchmark_file("fig_obd_convergence")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-obd-convergence --distilled {input} --out {output} {params.provenance}"
        " > {log} 2>&1"


rule table_obd_d4rl:
    """OBD's Table 1 on D4RL: every present D4RL dataset's distillations and references,
    in D4RL normalised scores beside the published ones."""
    input:
        unpack(d4rl_table_inputs),
    output:
        pdf=report("reports/table_obd_d4rl.pdf", caption="../report/table_obd_d4rl.rst", category="Distillation"),
        csv="reports/table_obd_d4rl.csv",
        tex="reports/table_obd_d4rl.tex",
        scores="reports/table_obd_d4rl_scores.csv",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        log_file("table_obd_d4rl"),
    benchmark:
        benchmark_file("table_obd_d4rl")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table-obd-d4rl --info {input.info} --distilled {input.distilled}"
        " --baselines {input.baselines} --out-prefix reports/table_obd_d4rl {params.provenance} > {log} 2>&1"


rule reproduction:
    """The claim scorecard: each published claim, its measured value and interval, a verdict."""
    input:
        returns=f"{RESULTS}/returns.csv",
        random_reference=RANDOM_REFERENCE,
        coverage=coverage_files,
        distilled=distill_files,
        baselines=distill_baseline_files,
        sizes=distill_size_files,
        d4rl=d4rl_scores_file,
    output:
        md="reports/reproduction.md",
        pdf=report("reports/reproduction.pdf", caption="../report/reproduction.rst", category="Reproduction"),
    params:
        tasks=" ".join(TASKS),
        d4rl=lambda wc, input: f"--d4rl-scores {input.d4rl}" if input.d4rl else "",
        provenance=REPORT_PROVENANCE,
    log:
        log_file("reproduction"),
    benchmark:
        benchmark_file("reproduction")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl reproduction --returns {input.returns} --tasks {params.tasks}"
        " --random-reference {input.random_reference} --coverage {input.coverage} --distilled {input.distilled} --baselines {input.baselines}"
        " --sizes {input.sizes} {params.d4rl} --out-prefix reports/reproduction {params.provenance} > {log} 2>&1"
