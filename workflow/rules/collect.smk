rule pretrain_encoder:
    input:
        f"{RESULTS}/datasets/{{domain}}/{SETTINGS['encoder']['dataset']}/seed0/manifest.json",
    output:
        f"{RESULTS}/encoder/{{domain}}.pt",
    params:
        steps=SETTINGS["encoder"]["steps"],
        batch_size=SETTINGS["encoder"]["batch_size"],
        hidden_dim=SETTINGS["encoder"]["hidden_dim"],
    log:
        f"{LOGS}/pretrain_encoder/{{domain}}.log",
    benchmark:
        f"{BENCH}/pretrain_encoder/{{domain}}.tsv"
    threads: SETTINGS["threads"]["pretrain_encoder"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("pretrain_encoder"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl pretrain-encoder --manifest {input} --out {output}"
        " --steps {params.steps} --batch-size {params.batch_size}"
        " --hidden-dim {params.hidden_dim} --threads {threads} > {log} 2>&1"


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
        transitions=SETTINGS["collect"]["transitions"],
        explore=command_flags(SETTINGS["explore"]),
        folder=subpath(output[0], parent=True),
    log:
        f"{LOGS}/collect/{{domain}}/{{dataset}}/seed{{collection_seed}}.log",
    benchmark:
        f"{BENCH}/collect/{{domain}}/{{dataset}}/seed{{collection_seed}}.tsv"
    threads: SETTINGS["threads"]["collect"]
    resources:
        gpu=lambda wc: int(learns(DATASETS[wc.dataset])),
        mem_mb=8000,
        runtime=runtime("collect"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl collect --domain {wildcards.domain} {params.agent} {params.explore}"
        " --transitions {params.transitions} --seed {params.seed} --out {params.folder}"
        " --threads {threads} > {log} 2>&1"


rule import_exorl:
    """One of ExORL's datasets, its first episodes up to the preset's number of transitions
    (the same episodes at every collection seed: ExORL recorded one dataset per agent)."""
    output:
        f"{DATASET_FOLDER}/manifest.json",
    wildcard_constraints:
        dataset=IMPORTED,
    params:
        source=exorl_source,
        transitions=SETTINGS["collect"]["transitions"],
        folder=subpath(output[0], parent=True),
    log:
        f"{LOGS}/import_exorl/{{domain}}/{{dataset}}/seed{{collection_seed}}.log",
    benchmark:
        f"{BENCH}/import_exorl/{{domain}}/{{dataset}}/seed{{collection_seed}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime("collect"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl import-exorl --domain {wildcards.domain} --source {params.source:q}"
        " --transitions {params.transitions} --out {params.folder} > {log} 2>&1"
