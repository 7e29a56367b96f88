rule aggregate:
    input:
        evaluation_files,
    output:
        f"{RESULTS}/returns.csv",
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
        "python -m berl aggregate --out {output} {input} > {log} 2>&1"


rule table1:
    input:
        f"{RESULTS}/returns.csv",
    output:
        pdf=report("reports/table1.pdf", caption="../report/table1.rst", category="Offline RL"),
        csv="reports/table1.csv",
        tex="reports/table1.tex",
    params:
        tasks=" ".join(TASKS),
        preset=PRESET,
        config_hash=CONFIG_HASH,
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
        " --out-prefix reports/table1 --preset {params.preset}"
        " --config-hash {params.config_hash} > {log} 2>&1"
