rule export_minari:
    """A dataset as local Minari datasets, one per task of its domain, under a Minari root
    per collection seed (built on demand:
    `snakemake results/<preset>/minari/seed<k>/<domain>/<dataset>`)."""
    input:
        manifest=f"{DATASET_FOLDER}/manifest.json",
        relabelled=lambda wc: relabelled_files(wc).values(),
    output:
        directory(f"{RESULTS}/minari/seed{{collection_seed}}/{{domain}}/{{dataset}}"),
    params:
        relabelled=lambda wc: named_paths(relabelled_files(wc)),
        spec=lambda wc: json.dumps(DATASETS[wc.dataset], separators=(",", ":")),
        preset=PRESET,
        config_hash=CONFIG_HASH,
    log:
        f"{LOGS}/export_minari/seed{{collection_seed}}/{{domain}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/export_minari/seed{{collection_seed}}/{{domain}}/{{dataset}}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl export-minari --manifest {input.manifest} --relabelled {params.relabelled}"
        " --dataset {wildcards.dataset} --spec {params.spec:q} --preset {params.preset}"
        " --config-hash {params.config_hash} --out {output} > {log} 2>&1"
