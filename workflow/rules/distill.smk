# Offline behaviour distillation of every dataset, and its baselines (berl.distill).
# The preset's `distill` block names only what its scale changes: the rest is OBD's
# (berl.distill.obd.DistillSettings).
from berl.distill.obd import BASELINES_ONLY, DISTILL_ONLY


wildcard_constraints:
    objective="dbc|pbc|av_pbc",
    synthetic=r"\d+",


rule distill:
    input:
        unpack(distill_inputs),
    output:
        f"{RESULTS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/{{objective}}_n{{synthetic}}.pt",
    params:
        # the objective and the set's size come from the job's wildcards
        settings=stage_flags("distill", skip=BASELINES_ONLY + ("objective", "synthetic")),
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
        settings=stage_flags("distill", skip=DISTILL_ONLY),
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
