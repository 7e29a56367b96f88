# Offline behaviour distillation of every dataset, its baselines, and Table 2.
# Settings the preset leaves out take berl.distill's defaults (OBD's values).
DISTILL_FLAGS = command_flags({
    key: value for key, value in DISTILL.items()
    if key in ("policy", "teacher_action", "teacher_q", "clamp_actions", "layers", "width", "inner_steps",
               "minibatches", "batch_size", "eval_seeds", "eval_episodes")
})
DISTILL_RUN_FLAGS = command_flags({key: value for key, value in DISTILL.items() if key == "eval_every"})


wildcard_constraints:
    objective="dbc|pbc|av_pbc",
    synthetic=r"\d+",


rule distill:
    input:
        unpack(distill_inputs),
    output:
        f"{RESULTS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/{{objective}}_n{{synthetic}}.pt",
    params:
        settings=DISTILL_FLAGS,
        run=DISTILL_RUN_FLAGS,
        generalisation=generalisation_flag,
        outer_steps=DISTILL["outer_steps"],
    log:
        f"{LOGS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/{{objective}}_n{{synthetic}}.log",
    benchmark:
        f"{BENCH}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/{{objective}}_n{{synthetic}}.tsv"
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
        " --outer-steps {params.outer_steps} {params.run} {params.generalisation} --threads {threads}"
        " --out {output}"
        " > {log} 2>&1"


rule distill_baselines:
    input:
        unpack(distill_inputs),
    output:
        f"{RESULTS}/distill/{{dataset}}/seed{{collection_seed}}/{{task}}/baselines.json",
    params:
        settings=DISTILL_FLAGS,
        synthetic=DISTILL["synthetic"],
        bc_steps=DISTILL["bc_steps"],
    log:
        f"{LOGS}/distill_baselines/{{dataset}}/seed{{collection_seed}}/{{task}}.log",
    benchmark:
        f"{BENCH}/distill_baselines/{{dataset}}/seed{{collection_seed}}/{{task}}.tsv"
    threads: SETTINGS["threads"]["distill"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=runtime("distill"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl distill-baselines --data {input.data} --agents {input.agents}"
        " --task {wildcards.task} --synthetic {params.synthetic} {params.settings}"
        " --bc-steps {params.bc_steps}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule table2:
    input:
        distilled=distill_files,
        baselines=distill_baseline_files,
    output:
        pdf=report("reports/table2_obd.pdf", caption="../report/table2_obd.rst", category="Distillation"),
        csv="reports/table2_obd.csv",
        tex="reports/table2_obd.tex",
        generalisation_csv="reports/table2_obd_generalisation.csv",
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/table2.log",
    benchmark:
        f"{BENCH}/table2.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl table2 --distilled {input.distilled} --baselines {input.baselines}"
        " --datasets '{params.datasets}' --out-prefix reports/table2_obd {params.provenance}"
        " > {log} 2>&1"


rule fig_obd_size:
    input:
        distill_size_files,
    output:
        report("reports/fig_obd_size.pdf", caption="../report/fig_obd_size.rst", category="Distillation"),
    params:
        datasets=datasets_json,
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/fig_obd_size.log",
    benchmark:
        f"{BENCH}/fig_obd_size.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-obd-size --distilled {input} --datasets '{params.datasets}'"
        " --out {output} {params.provenance} > {log} 2>&1"


rule fig_obd_convergence:
    input:
        distill_files,
    output:
        report("reports/fig_obd_convergence.pdf", caption="../report/fig_obd_convergence.rst",
               category="Distillation"),
    params:
        provenance=REPORT_PROVENANCE,
    log:
        f"{LOGS}/fig_obd_convergence.log",
    benchmark:
        f"{BENCH}/fig_obd_convergence.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl fig-obd-convergence --distilled {input} --out {output} {params.provenance}"
        " > {log} 2>&1"
