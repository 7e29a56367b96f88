rule collect:
    output:
        f"{RESULTS}/datasets/{{domain}}/{{dataset}}/manifest.json",
    params:
        agent=lambda wc: DATASETS[wc.dataset]["agent"],
        seed=lambda wc: DATASETS[wc.dataset]["seed"],
        transitions=SETTINGS["collect"]["transitions"],
        folder=subpath(output[0], parent=True),
    log:
        f"{LOGS}/collect/{{domain}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/collect/{{domain}}/{{dataset}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=runtime("collect"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl collect --domain {wildcards.domain} --agent {params.agent}"
        " --transitions {params.transitions} --seed {params.seed} --out {params.folder}"
        " > {log} 2>&1"
