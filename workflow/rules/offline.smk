# Offline RL (berl.offline): every task x seed of one (dataset replicate, algorithm) pair
# trained as one batch, with learning curves.


rule train_offline:
    input:
        unpack(relabelled_files),
    output:
        agents=f"{RESULTS}/offline/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}/agents.pt",
        evaluation=f"{RESULTS}/eval/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}.json",
    params:
        data=lambda wc, input: named_paths(input),
        settings=stage_flags("offline"),
        evaluation=stage_flags("evaluate", prefix="eval_"),
        switches=algorithm_switches,
    log:
        log_file("train/{domain}/{dataset}/seed{collection_seed}/{algorithm}"),
    benchmark:
        benchmark_file("train/{domain}/{dataset}/seed{collection_seed}/{algorithm}")
    threads: SETTINGS["threads"]["train"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=runtime("train"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl train --algorithm {wildcards.algorithm} --data {params.data}"
        " --dataset {wildcards.dataset} --out {output.agents} --eval-out {output.evaluation}"
        " {params.settings} {params.evaluation} {params.switches} --threads {threads} > {log} 2>&1"
