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
        settings=job_settings("train"),
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
        " {params.settings} --threads {threads} > {log} 2>&1"


rule random_reference:
    """The uniform-random policy's returns on a task, from the evaluations' start states."""
    output:
        f"{RESULTS}/eval/random_policy/{{task}}.json",
    params:
        settings=job_settings("random-reference"),
    log:
        log_file("random_reference/{task}"),
    benchmark:
        benchmark_file("random_reference/{task}")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=runtime("train"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl random-reference --task {wildcards.task} {params.settings} --out {output} > {log} 2>&1"


rule train_offline_d4rl:
    """The D4RL branch's teacher: `d4rl.teacher` (CORL's Cal-QL by default) trained on one
    D4RL dataset for `d4rl.steps` (every seed as one batch), evaluated in the dataset's
    Gymnasium task."""
    input:
        f"{D4RL_RESULTS}/transitions.npz",
    output:
        agents=f"{D4RL_RESULTS}/offline/{D4RL.teacher}/agents.pt",
        evaluation=f"{D4RL_RESULTS}/offline/{D4RL.teacher}/evaluation.json",
    params:
        task=d4rl_task,
        settings=d4rl_teacher_settings(),
    log:
        log_file("train_d4rl/{d4rl}"),
    benchmark:
        benchmark_file("train_d4rl/{d4rl}")
    threads: SETTINGS["threads"]["train"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=runtime("train"),
    conda:
        "../../envs/berl.yaml"
    shell:
        f"python -m berl train --algorithm {D4RL.teacher} --data {{params.task}}={{input}}"
        " --dataset {wildcards.d4rl} --out {output.agents} --eval-out {output.evaluation}"
        " {params.settings} --threads {threads} > {log} 2>&1"
