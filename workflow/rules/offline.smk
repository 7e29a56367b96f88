OFFLINE = SETTINGS["offline"]


rule train_offline:
    input:
        f"{RESULTS}/datasets/{{domain}}/{{dataset}}/relabelled/{{task}}.npz",
    output:
        f"{RESULTS}/offline/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}/agents.pt",
    params:
        seeds=OFFLINE["seeds"],
        steps=OFFLINE["steps"],
        batch_size=OFFLINE["batch_size"],
        hidden_dim=OFFLINE["hidden_dim"],
        log_every=OFFLINE["log_every"],
        checkpoint_every=OFFLINE["checkpoint_every"],
    log:
        f"{LOGS}/train/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}.log",
    benchmark:
        f"{BENCH}/train/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=runtime("train"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl train --algorithm {wildcards.algorithm} --data {input} --out {output}"
        " --seeds {params.seeds} --steps {params.steps} --batch-size {params.batch_size}"
        " --hidden-dim {params.hidden_dim} --log-every {params.log_every}"
        " --checkpoint-every {params.checkpoint_every} --threads {threads} > {log} 2>&1"


rule evaluate:
    input:
        f"{RESULTS}/offline/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}/agents.pt",
    output:
        f"{RESULTS}/eval/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}.json",
    params:
        episodes=SETTINGS["evaluate"]["episodes"],
    log:
        f"{LOGS}/evaluate/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{domain}}/{{dataset}}/{{algorithm}}/{{task}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=runtime("evaluate"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl evaluate --agent {input} --task {wildcards.task}"
        " --dataset {wildcards.dataset} --episodes {params.episodes} --out {output}"
        " --threads {threads} > {log} 2>&1"
