# Coverage of the datasets (berl.coverage): entropy estimates, volumetric measures, joint
# embeddings, and the estimators' accuracy on distributions with known entropies.
from berl.core.constants import EMBEDDING_METHODS


wildcard_constraints:
    method="|".join(EMBEDDING_METHODS),


rule coverage:
    input:
        manifests=lambda wc: list(domain_manifests(wc).values()),
        encoder=f"{RESULTS}/encoder/{{domain}}.pt",
    output:
        f"{RESULTS}/coverage/{{domain}}/seed{{collection_seed}}/coverage.csv",
    params:
        manifests=lambda wc: named_paths(domain_manifests(wc)),
        datasets=datasets_json,
        settings=job_settings("coverage"),
    log:
        log_file("coverage/{domain}/seed{collection_seed}"),
    benchmark:
        benchmark_file("coverage/{domain}/seed{collection_seed}")
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=8000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl coverage --domain {wildcards.domain} --manifests {params.manifests}"
        " --datasets '{params.datasets}' --encoder {input.encoder} {params.settings}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule embedding:
    input:
        manifests=lambda wc: list(domain_manifests(wc).values()),
        encoder=f"{RESULTS}/encoder/{{domain}}.pt",
    output:
        f"{RESULTS}/coverage/{{domain}}/{{method}}.csv",
    params:
        manifests=lambda wc: named_paths(domain_manifests(wc)),
        settings=job_settings("embed"),
    log:
        log_file("embedding/{domain}/{method}"),
    benchmark:
        benchmark_file("embedding/{domain}/{method}")
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=8000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl embed --method {wildcards.method} --manifests {params.manifests}"
        " --encoder {input.encoder} {params.settings} --threads {threads} --out {output}"
        " > {log} 2>&1"


rule estimator_study:
    output:
        f"{RESULTS}/estimator_study.csv",
    params:
        # with the coverage block: the study measures the errors of the values the coverage
        # table prints (its points, k, components and alphas)
        settings=job_settings("estimator-study"),
    log:
        log_file("estimator_study"),
    benchmark:
        benchmark_file("estimator_study")
    threads: SETTINGS["threads"]["analysis"]
    resources:
        mem_mb=4000,
        runtime=runtime("analysis"),
    conda:
        "../../envs/berl.yaml"
    shell:
        "python -m berl estimator-study {params.settings} --threads {threads} --out {output}"
        " > {log} 2>&1"
