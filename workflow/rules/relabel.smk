rule relabel:
    input:
        f"{DATASET_FOLDER}/manifest.json",
    output:
        f"{DATASET_FOLDER}/relabelled/{{task}}.npz",
    log:
        f"{LOGS}/relabel/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{task}}.log",
    benchmark:
        f"{BENCH}/relabel/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{task}}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl relabel --manifest {input} --task {wildcards.task} --out {output}"
        " > {log} 2>&1"
