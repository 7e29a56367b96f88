# Offline behaviour distillation of every dataset, and its baselines (berl.distill).
# The preset's `distill` block names only what its scale changes: the rest is OBD's
# (berl.distill.settings.DistillSettings).
from berl.core.constants import OBJECTIVES


wildcard_constraints:
    objective="|".join(OBJECTIVES),
    synthetic=r"\d+",


rule distill:
    input:
        unpack(distill_inputs),
    output:
        f"{RESULTS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/{{objective}}_n{{synthetic}}.pt",
    params:
        # the objective and the set's size come from the job's wildcards
        settings=job_settings("distill"),
        generalisation=generalisation_flag,
    log:
        log_file("distill/{dataset}/seed{collection_seed}/{task}/{objective}_n{synthetic}"),
    benchmark:
        benchmark_file("distill/{dataset}/seed{collection_seed}/{task}/{objective}_n{synthetic}")
    threads: SETTINGS["threads"]["distill"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("distill"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl distill --data {input.data} --agents {input.agents} --task {wildcards.task}"
        " --objective {wildcards.objective} --synthetic {wildcards.synthetic} {params.settings}"
        " {params.generalisation} --threads {threads} --out {output} > {log} 2>&1"


rule distill_baselines:
    input:
        unpack(distill_inputs),
    output:
        f"{RESULTS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/baselines.json",
    params:
        settings=job_settings("distill-baselines"),
    log:
        log_file("distill_baselines/{dataset}/seed{collection_seed}/{task}"),
    benchmark:
        benchmark_file("distill_baselines/{dataset}/seed{collection_seed}/{task}")
    threads: SETTINGS["threads"]["distill"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("distill"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl distill-baselines --data {input.data} --agents {input.agents}"
        " --task {wildcards.task} {params.settings} --threads {threads} --out {output} > {log} 2>&1"


rule distill_d4rl:
    """One distillation of a D4RL dataset at the preset's N_syn, with the outer steps of
    `d4rl.outer_steps` (OBD's per objective and environment at the paper preset)."""
    input:
        data=f"{D4RL_RESULTS}/transitions.npz",
        agents=d4rl_teacher,
    output:
        f"{D4RL_RESULTS}/distill/{{objective}}_n{{synthetic}}.pt",
    params:
        task=d4rl_task,
        outer_steps=d4rl_outer_steps,
        settings=job_settings("distill"),
    log:
        log_file("distill_d4rl/{d4rl}/{objective}_n{synthetic}"),
    benchmark:
        benchmark_file("distill_d4rl/{d4rl}/{objective}_n{synthetic}")
    threads: SETTINGS["threads"]["distill"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=runtime("distill"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl distill --data {input.data} --agents {input.agents} --task {params.task}"
        " --objective {wildcards.objective} --synthetic {wildcards.synthetic} --outer-steps {params.outer_steps}"
        " {params.settings} --threads {threads} --out {output} > {log} 2>&1"


rule distill_baselines_d4rl:
    """OBD's references on a D4RL dataset: BC on the whole dataset and the teacher."""
    input:
        data=f"{D4RL_RESULTS}/transitions.npz",
        agents=d4rl_teacher,
    output:
        f"{D4RL_RESULTS}/distill/baselines.json",
    params:
        task=d4rl_task,
        settings=job_settings("distill-baselines"),
    log:
        log_file("distill_baselines_d4rl/{d4rl}"),
    benchmark:
        benchmark_file("distill_baselines_d4rl/{d4rl}")
    threads: SETTINGS["threads"]["distill"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=runtime("distill"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl distill-baselines --data {input.data} --agents {input.agents} --task {params.task}"
        " {params.settings} --threads {threads} --out {output} > {log} 2>&1"
