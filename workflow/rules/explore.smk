# Exploration: each domain's state encoder, then every collected dataset of the grid
# (berl.explore).


rule pretrain_encoder:
    input:
        f"{RESULTS}/datasets/{{domain}}/{SETTINGS['encoder']['dataset']}/seed0/manifest.json",
    output:
        f"{RESULTS}/encoder/{{domain}}.pt",
    params:
        settings=job_settings("pretrain-encoder"),
    log:
        log_file("pretrain_encoder/{domain}"),
    benchmark:
        benchmark_file("pretrain_encoder/{domain}")
    threads: SETTINGS["threads"]["pretrain_encoder"]
    priority: LONGEST_CHAIN
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("pretrain_encoder"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl pretrain-encoder --manifest {input} --out {output} {params.settings}"
        " --threads {threads} > {log} 2>&1"


# One job per group of datasets of one explorer kind and domain (`collect.group_size`), its
# explorers batched in lockstep; a rule per group, as each writes its own set of datasets.
for group, (kind, members) in collection_groups().items():

    rule:
        name:
            f"collect_{group}"
        input:
            **encoder_input(kind),
        output:
            [f"{RESULTS}/datasets/{{domain}}/{name}/seed{seed}/manifest.json" for name, seed in members],
        params:
            datasets=collection_arguments(kind, members),
            settings=job_settings("collect"),
            folders=lambda wildcards, output: " ".join(os.path.dirname(path) for path in output),
        log:
            log_file(f"collect/{{domain}}/{group}"),
        benchmark:
            benchmark_file(f"collect/{{domain}}/{group}")
        threads: SETTINGS["threads"]["collect"]
        priority: collection_priority(kind)
        resources:
            gpu=int(learns(kind)),
            mem_mb=8000,
            runtime=runtime("collect"),
        conda:
            "../../envs/berl.yaml"
        shell:
            "python -m berl collect --domain {wildcards.domain} {params.datasets} {params.settings}"
            " --out {params.folders} --threads {threads} > {log} 2>&1"
