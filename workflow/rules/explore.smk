# Exploration: each domain's state encoder, then every collected dataset of the grid
# (berl.explore).


rule pretrain_encoder:
    input:
        f"{RESULTS}/datasets/{{domain}}/{SETTINGS['encoder']['dataset']}/seed0/manifest.json",
    output:
        f"{RESULTS}/encoder/{{domain}}.pt",
    params:
        settings=stage_flags("encoder"),
    log:
        log_file("pretrain_encoder/{domain}"),
    benchmark:
        benchmark_file("pretrain_encoder/{domain}")
    threads: SETTINGS["threads"]["pretrain_encoder"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("pretrain_encoder"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl pretrain-encoder --manifest {input} --out {output} {params.settings}"
        " --threads {threads} > {log} 2>&1"


rule collect:
    input:
        unpack(collection_inputs),
    output:
        f"{DATASET_FOLDER}/manifest.json",
    wildcard_constraints:
        dataset=COLLECTED,
    params:
        agent=agent_arguments,
        seed=lambda wc: DATASETS[wc.dataset]["seed"] + int(wc.collection_seed),
        settings=stage_flags("collect", "explore"),
        folder=subpath(output[0], parent=True),
    log:
        log_file("collect/{domain}/{dataset}/seed{collection_seed}"),
    benchmark:
        benchmark_file("collect/{domain}/{dataset}/seed{collection_seed}")
    threads: SETTINGS["threads"]["collect"]
    resources:
        gpu=lambda wc: int(learns(DATASETS[wc.dataset])),
        mem_mb=8000,
        runtime=runtime("collect"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl collect --domain {wildcards.domain} {params.agent} {params.settings}"
        " --seed {params.seed} --out {params.folder} --threads {threads} > {log} 2>&1"
