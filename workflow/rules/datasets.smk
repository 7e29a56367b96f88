# Datasets in and out (berl.datasets): ExORL's imported, every dataset relabelled with each
# task's reward, and Minari exports on demand.


rule import_exorl:
    """One of ExORL's datasets, its first episodes up to the preset's number of transitions
    (the same episodes at every collection seed: ExORL recorded one dataset per agent)."""
    output:
        f"{DATASET_FOLDER}/manifest.json",
    wildcard_constraints:
        dataset=IMPORTED,
    params:
        source=exorl_source,
        settings=job_settings("import-exorl"),
        folder=subpath(output[0], parent=True),
    log:
        log_file("import_exorl/{domain}/{dataset}/seed{collection_seed}"),
    benchmark:
        benchmark_file("import_exorl/{domain}/{dataset}/seed{collection_seed}")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime("collect"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl import-exorl --domain {wildcards.domain} --source {params.source:q}"
        " {params.settings} --out {params.folder} > {log} 2>&1"


rule relabel:
    input:
        f"{DATASET_FOLDER}/manifest.json",
    output:
        f"{DATASET_FOLDER}/relabelled/{{task}}.npz",
    log:
        log_file("relabel/{domain}/{dataset}/seed{collection_seed}/{task}"),
    benchmark:
        benchmark_file("relabel/{domain}/{dataset}/seed{collection_seed}/{task}")
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl relabel --manifest {input} --task {wildcards.task} --out {output}"
        " > {log} 2>&1"


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
        provenance=REPORT_PROVENANCE,
    log:
        log_file("export_minari/seed{collection_seed}/{domain}/{dataset}"),
    benchmark:
        benchmark_file("export_minari/seed{collection_seed}/{domain}/{dataset}")
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl export-minari --manifest {input.manifest} --relabelled {params.relabelled}"
        " --dataset {wildcards.dataset} --spec {params.spec:q} {params.provenance} --out {output}"
        " > {log} 2>&1"


rule import_d4rl:
    """A D4RL dataset (OBD's benchmark), checked against its environment and written as
    transitions with episode ends, and its info: the Gymnasium task that scores it and the
    reference returns of the normalised score."""
    input:
        d4rl_source,
    output:
        data=f"{D4RL_RESULTS}/transitions.npz",
        info=f"{D4RL_RESULTS}/info.json",
    params:
        dataset=d4rl_name,
        root=D4RL.root,
    log:
        log_file("import_d4rl/{d4rl}"),
    benchmark:
        benchmark_file("import_d4rl/{d4rl}")
    threads: 1
    resources:
        mem_mb=8000,
        runtime=runtime("relabel"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl import-d4rl --dataset {params.dataset:q} --root {params.root:q}"
        " --out {output.data} --info {output.info} > {log} 2>&1"
