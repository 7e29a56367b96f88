# Coverage of the datasets: entropy estimates, volumetric measures, joint embeddings, and
# the estimators' accuracy on distributions with known entropies.


wildcard_constraints:
    method="tsne|phate",


rule coverage:
    input:
        manifests=lambda wc: list(domain_manifests(wc).values()),
        encoder=f"{RESULTS}/encoder/{{domain}}.pt",
    output:
        f"{RESULTS}/coverage/{{domain}}/seed{{collection_seed}}/coverage.csv",
    params:
        manifests=lambda wc: named_paths(domain_manifests(wc)),
        datasets=datasets_json,
        settings=command_flags(SETTINGS["coverage"]),
    log:
        f"{LOGS}/coverage/{{domain}}/seed{{collection_seed}}.log",
    benchmark:
        f"{BENCH}/coverage/{{domain}}/seed{{collection_seed}}.tsv"
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=8000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl coverage --domain {wildcards.domain} --manifests {params.manifests}"
        " --datasets '{params.datasets}' --encoder {input.encoder} {params.settings}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule embedding:
    input:
        manifests=lambda wc: list(domain_manifests(wc).values()),
        encoder=f"{RESULTS}/encoder/{{domain}}.pt",
    output:
        f"{RESULTS}/coverage/{{domain}}/{{method}}.csv",
    params:
        manifests=lambda wc: named_paths(domain_manifests(wc)),
        settings=command_flags(SETTINGS["embedding"]),
    log:
        f"{LOGS}/embedding/{{domain}}/{{method}}.log",
    benchmark:
        f"{BENCH}/embedding/{{domain}}/{{method}}.tsv"
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=8000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl embed --method {wildcards.method} --manifests {params.manifests}"
        " --encoder {input.encoder} {params.settings} --threads {threads} --out {output}"
        " > {log} 2>&1"


rule estimator_study:
    output:
        f"{RESULTS}/estimator_study.csv",
    params:
        settings=command_flags(SETTINGS["estimator_study"]),
    log:
        f"{LOGS}/estimator_study.log",
    benchmark:
        f"{BENCH}/estimator_study.tsv"
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=4000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl estimator-study {params.settings} --threads {threads} --out {output}"
        " > {log} 2>&1"


rule table_coverage:
    input:
        coverage_files,
    output:
        pdf=report("reports/table_coverage.pdf", caption="../report/table_coverage.rst",
                   category="Coverage"),
        csv="reports/table_coverage.csv",
        tex="reports/table_coverage.tex",
    params:
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/table_coverage.log",
    benchmark:
        f"{BENCH}/table_coverage.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table-coverage --coverage {input} --out-prefix reports/table_coverage"
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
        f"{LOGS}/fig_coverage_{{method}}.log",
    benchmark:
        f"{BENCH}/fig_coverage_{{method}}.tsv"
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
        f"{LOGS}/fig_coverage_vs_return.log",
    benchmark:
        f"{BENCH}/fig_coverage_vs_return.tsv"
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
        f"{LOGS}/fig_estimator_accuracy.log",
    benchmark:
        f"{BENCH}/fig_estimator_accuracy.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-estimator-accuracy --study {input} --out {output} {params.provenance}"
        " > {log} 2>&1"
