rule relabel:
    input:
        f"{RESULTS}/datasets/{{domain}}/{{dataset}}/manifest.json",
    output:
        f"{RESULTS}/datasets/{{domain}}/{{dataset}}/relabelled/{{task}}.npz",
    log:
        f"{LOGS}/relabel/{{domain}}/{{dataset}}/{{task}}.log",
    benchmark:
        f"{BENCH}/relabel/{{domain}}/{{dataset}}/{{task}}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl relabel --manifest {input} --task {wildcards.task} --out {output}"
        " > {log} 2>&1"
