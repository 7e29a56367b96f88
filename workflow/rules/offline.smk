OFFLINE = SETTINGS["offline"]


rule train_offline:
    """Every task x seed of one (dataset replicate, algorithm) pair as one batch, with
    learning curves."""
    input:
        unpack(relabelled_files),
    output:
        agents=f"{RESULTS}/offline/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}/agents.pt",
        evaluation=f"{RESULTS}/eval/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}.json",
    params:
        data=lambda wc, input: named_paths(input),
        seeds=OFFLINE["seeds"],
        steps=OFFLINE["steps"],
        batch_size=OFFLINE["batch_size"],
        hidden_dim=OFFLINE["hidden_dim"],
        log_every=OFFLINE["log_every"],
        checkpoint_every=OFFLINE["checkpoint_every"],
        eval_every=OFFLINE["eval_every"],
        episodes=SETTINGS["evaluate"]["episodes"],
        switches=lambda wc: command_flags(OFFLINE.get(wc.algorithm, {})),
    log:
        f"{LOGS}/train/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}.log",
    benchmark:
        f"{BENCH}/train/{{domain}}/{{dataset}}/seed{{collection_seed}}/{{algorithm}}.tsv"
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
        " --seeds {params.seeds} --steps {params.steps} --batch-size {params.batch_size}"
        " --hidden-dim {params.hidden_dim} --log-every {params.log_every}"
        " --checkpoint-every {params.checkpoint_every} --eval-every {params.eval_every}"
        " --eval-episodes {params.episodes} {params.switches} --threads {threads} > {log} 2>&1"
