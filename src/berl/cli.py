"""Command line for single stages: ``python -m berl <stage> --help``.

The Snakemake rules call these same entry points, so a stage behaves identically inside
and outside the workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _given(args, *names: str) -> dict:
    """The settings among ``names`` given on the command line; the others are left out, so
    that they keep the default of the stage's settings dataclass."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _collect(args) -> None:
    from .collect import collect
    from .device import pick_device, set_threads

    set_threads(args.threads)
    reward = {k: getattr(args, k) for k in ("reward", "alpha", "beta", "q") if getattr(args, k) is not None}
    if args.agent == "apt" and "reward" not in reward:
        raise SystemExit("collect: --agent apt needs --reward")
    if args.agent != "apt" and reward:
        raise SystemExit(f"collect: {', '.join('--' + k for k in reward)} only apply to --agent apt")
    spec = {"agent": args.agent} | reward
    sizes = {"hidden_dim": args.hidden_dim, "batch_size": args.batch_size, "seed_frames": args.seed_frames}
    sizes |= _given(args, "encoder_online", "encoder_init", "encoder_nstep_successor", "knn_rms")
    collect(args.domain, spec, args.transitions, args.seed, args.out, sizes=sizes,
            encoder_path=args.encoder, device=pick_device())


def _pretrain_encoder(args) -> None:
    from .device import pick_device, set_threads
    from .encoder import pretrain

    set_threads(args.threads)
    pretrain(args.manifest, args.out, args.steps, args.batch_size, args.hidden_dim,
             pick_device(), log_every=args.log_every)


def _import_exorl(args) -> None:
    from .exorl import import_exorl

    import_exorl(args.source, args.out, args.domain, args.transitions)


def _export_minari(args) -> None:
    from .minari_export import export_minari

    metadata = {**json.loads(args.spec), "preset": args.preset, "config_hash": args.config_hash}
    for dataset_id in export_minari(args.manifest, _named_paths("export-minari", "--relabelled", args.relabelled),
                                    args.out, args.dataset, metadata):
        print(dataset_id)


def _relabel(args) -> None:
    from .relabel import relabel

    relabel(args.manifest, args.task, args.out)


def _named_paths(stage: str, flag: str, items: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` arguments as a dict."""
    named = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"{stage}: {flag} takes NAME=PATH, got {item!r}")
        named[name] = Path(path)
    return named


def _train(args) -> None:
    from .device import pick_device, set_threads
    from .offline.train import train

    set_threads(args.threads)
    data = _named_paths("train", "--data", args.data)
    train(
        args.algorithm, data, args.out, list(range(args.seeds)), args.steps,
        {"hidden_dim": args.hidden_dim, "batch_size": args.batch_size}
        | _given(args, "noisy_actor_loss", "log_prob_per_dimension"), pick_device(),
        log_every=args.log_every, checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every or args.steps, eval_episodes=args.eval_episodes,
        eval_path=args.eval_out, dataset=args.dataset,
    )


def _evaluate(args) -> None:
    from .device import set_threads
    from .evaluate import evaluate

    set_threads(args.threads)
    evaluate(args.agent, args.dataset, args.episodes, args.out)


def _aggregate(args) -> None:
    from .report import aggregate

    aggregate(args.eval_files, args.out, json.loads(args.datasets))


def _coverage(args) -> None:
    from .coverage import CoverageSettings, measure
    from .device import set_threads

    set_threads(args.threads)
    settings = CoverageSettings(
        points=args.points, k=args.k, components=args.components, be_alphas=args.be_alphas,
        renyi_qs=args.renyi_qs, grid_components=args.grid_components, grid_bins=args.grid_bins,
        ball_components=args.ball_components, ball_samples=args.ball_samples, seed=args.seed,
        **_given(args, "be_estimator"),
    )
    measure(args.domain, _named_paths("coverage", "--manifests", args.manifests),
            json.loads(args.datasets), args.encoder, settings, args.out)


def _embed(args) -> None:
    from .device import set_threads
    from .embedding import joint_embedding

    set_threads(args.threads)
    joint_embedding(_named_paths("embed", "--manifests", args.manifests), args.method, args.points,
                    args.out, space=args.space, encoder_path=args.encoder, seed=args.seed,
                    threads=args.threads, perplexity=args.perplexity, phate_knn=args.phate_knn)


def _estimator_study(args) -> None:
    from .device import set_threads
    from .estimator_study import run_study

    set_threads(args.threads)
    run_study(args.sizes, args.ks, args.dims, args.repeats, args.out, seed=args.seed)


DISTILL_SETTINGS = {  # DistillConfig's fields as flags, by type
    str: ("objective", "policy", "teacher_action", "teacher_q"),
    int: ("synthetic", "layers", "width", "inner_steps", "minibatches", "batch_size", "eval_seeds",
          "eval_episodes"),
    float: ("inner_lr", "outer_lr", "momentum", "clip_norm", "q_scale"),
    bool: ("clamp_actions",),
}


def _distill_config(args):
    """The flags given; DistillConfig's defaults (OBD's values) for the others."""
    from .distill import DistillConfig

    return DistillConfig(**_given(args, *(name for names in DISTILL_SETTINGS.values() for name in names)))


def _distill(args) -> None:
    from .device import pick_device, set_threads
    from .distill import distill

    set_threads(args.threads)
    distill(args.data, args.agents, args.task, _distill_config(args), args.outer_steps, args.out,
            pick_device(), seed=args.seed, log_every=args.log_every,
            checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
            generalisation=args.generalisation)


def _distill_baselines(args) -> None:
    from .device import pick_device, set_threads
    from .distill import baselines
    from .io import write_json

    set_threads(args.threads)
    write_json(args.out, baselines(args.data, args.agents, args.task, _distill_config(args),
                                   args.bc_steps, pick_device()))


def _report(args) -> None:
    from . import figures
    from .report import provenance, write_table1

    meta = provenance(args.preset, args.config_hash)
    if args.stage in ("table2", "fig-obd-size", "fig-obd-convergence"):
        from . import distill_report

        if args.stage == "table2":
            distill_report.write_table2(args.distilled, args.baselines, json.loads(args.datasets),
                                        args.out_prefix, meta)
        elif args.stage == "fig-obd-size":
            distill_report.write_size_figure(args.distilled, json.loads(args.datasets), args.out, meta)
        else:
            distill_report.write_convergence_figure(args.distilled, args.out, meta)
    elif args.stage in COVERAGE_REPORTS:
        from . import coverage_report, estimator_study

        if args.stage == "table-coverage":
            coverage_report.write_table_coverage(args.coverage, args.out_prefix, meta)
        elif args.stage == "fig-coverage":
            coverage_report.write_embedding_figure(_named_paths(args.stage, "--embeddings", args.embeddings),
                                                   json.loads(args.datasets), args.method, args.out, meta)
        elif args.stage == "fig-coverage-vs-return":
            coverage_report.write_coverage_vs_return(args.coverage, args.returns, args.out_prefix, meta)
        else:
            estimator_study.write_figure(args.study, args.out, meta)
    elif args.stage == "reproduction":
        from .reproduction import write_reproduction

        write_reproduction(args.returns, args.tasks, args.coverage, args.distilled, args.baselines,
                           args.sizes, args.out_prefix, meta)
    elif args.stage == "table1":
        write_table1(args.returns, args.tasks, args.out_prefix, meta)
    elif args.stage == "fig4":
        figures.write_fig4(args.returns, args.out, meta)
    elif args.stage == "iqm":
        figures.write_iqm(args.returns, args.out_prefix, meta)
    else:
        figures.write_learning_curves(args.eval_files, json.loads(args.datasets), args.out, meta)


COVERAGE_REPORTS = ("table-coverage", "fig-coverage", "fig-coverage-vs-return", "fig-estimator-accuracy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berl", description=__doc__)
    stages = parser.add_subparsers(dest="stage", required=True)

    p = stages.add_parser("collect", help="collect an exploration dataset")
    p.add_argument("--domain", required=True, choices=["walker", "quadruped"])
    p.add_argument("--agent", default="random", choices=["random", "apt", "smm", "rnd"])
    p.add_argument("--reward", choices=["be", "renyi", "shannon"], help="APT's particle reward")
    p.add_argument("--alpha", type=float, help="behavioral entropy's Prelec alpha")
    p.add_argument("--beta", type=float, help="Prelec beta (default (log 512)^(1-alpha))")
    p.add_argument("--q", type=float, help="Renyi order")
    p.add_argument("--encoder", type=Path, help="pretrained encoder (APT)")
    p.add_argument("--hidden-dim", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--seed-frames", type=int, default=4000)
    p.add_argument("--encoder-online", action=argparse.BooleanOptionalAction,
                   help="APT keeps training its encoder while exploring (default: on)")
    p.add_argument("--encoder-init", choices=["pretrained", "scratch"],
                   help="APT starts from --encoder or, as URLB, from a fresh encoder (default: pretrained)")
    p.add_argument("--encoder-nstep-successor", action=argparse.BooleanOptionalAction,
                   help="APT's online encoder update sees the n-step successor, as URLB (default: on)")
    p.add_argument("--knn-rms", action=argparse.BooleanOptionalAction,
                   help="divide APT's k-NN distances by their running mean, as URLB's knn_rms (default: on)")
    p.add_argument("--transitions", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="dataset folder")
    p.set_defaults(run=_collect)

    p = stages.add_parser("pretrain-encoder", help="pretrain a domain's state encoder")
    p.add_argument("--manifest", type=Path, required=True, help="a uniform-random dataset")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--hidden-dim", type=int, default=1024)
    p.add_argument("--log-every", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=_pretrain_encoder)

    p = stages.add_parser("import-exorl", help="import one of ExORL's datasets (episode files) as a dataset")
    p.add_argument("--source", type=Path, required=True, help="the agent's folder of ExORL episodes (or its buffer/)")
    p.add_argument("--domain", required=True, choices=["walker", "quadruped"])
    p.add_argument("--transitions", type=int, required=True, help="import the first episodes up to this many")
    p.add_argument("--out", type=Path, required=True, help="dataset folder")
    p.set_defaults(run=_import_exorl)

    p = stages.add_parser("export-minari", help="export a dataset as local Minari datasets, one per task")
    p.add_argument("--manifest", type=Path, required=True, help="the dataset's manifest.json")
    p.add_argument("--relabelled", nargs="+", required=True, metavar="TASK=PATH",
                   help="the dataset relabelled for each task to export")
    p.add_argument("--dataset", required=True, help="the dataset's name (Minari id <domain>/<dataset>/<task>-v0)")
    p.add_argument("--spec", default="{}", help="the dataset's configuration entry (JSON), kept as metadata")
    p.add_argument("--preset", default="", help="kept as metadata")
    p.add_argument("--config-hash", default="", help="kept as metadata")
    p.add_argument("--out", type=Path, required=True, help="<Minari root>/<domain>/<dataset>")
    p.set_defaults(run=_export_minari)

    p = stages.add_parser("relabel", help="relabel a dataset with one task's reward")
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--out", type=Path, required=True, help="transitions .npz")
    p.set_defaults(run=_relabel)

    p = stages.add_parser("train", help="train offline agents (every task x seed) as one batch")
    p.add_argument("--algorithm", default="td3", choices=["td3", "cql", "crr"])
    p.add_argument("--data", nargs="+", required=True, metavar="TASK=PATH",
                   help="the dataset relabelled for each task (relabel's .npz files)")
    p.add_argument("--out", type=Path, required=True, help="agents file (.pt)")
    p.add_argument("--dataset", default="", help="dataset name, for the tables")
    p.add_argument("--seeds", type=int, default=1, help="train seeds 0..n-1 for every task")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--hidden-dim", type=int, default=1024)
    p.add_argument("--log-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=10000)
    p.add_argument("--noisy-actor-loss", action=argparse.BooleanOptionalAction,
                   help="td3: the actor's loss takes a clipped noisy sample, as ExORL (default: on)")
    p.add_argument("--log-prob-per-dimension", action=argparse.BooleanOptionalAction,
                   help="cql: entropy terms per action dimension, as ExORL (default: on)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (default: at the end)")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-out", type=Path, help="learning curves and returns (.json)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=_train)

    p = stages.add_parser("evaluate", help="roll out trained agents, each in its own task")
    p.add_argument("--agent", type=Path, required=True, help="output of `train`")
    p.add_argument("--dataset", default="", help="dataset name, for the tables")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=_evaluate)

    datasets_help = "the configuration's dataset entries, as JSON"
    p = stages.add_parser("aggregate", help="gather evaluation files into one CSV")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--datasets", required=True, help=datasets_help)
    p.add_argument("eval_files", type=Path, nargs="+")
    p.set_defaults(run=_aggregate)

    def sample_flags(p, what):
        p.add_argument("--manifests", nargs="+", required=True, metavar="DATASET=PATH",
                       help="each dataset's manifest.json")
        p.add_argument("--points", type=int, required=True, help=f"states drawn from each dataset {what}")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--out", type=Path, required=True, help=".csv")

    p = stages.add_parser("coverage", help="entropy and volumetric coverage of a domain's datasets")
    sample_flags(p, "for the measures")
    p.add_argument("--domain", required=True)
    p.add_argument("--datasets", required=True, help=datasets_help)
    p.add_argument("--encoder", type=Path, required=True, help="the domain's frozen encoder")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--components", type=int, default=8)
    p.add_argument("--be-alphas", type=float, nargs="+", default=[0.2, 0.5, 0.7, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0])
    p.add_argument("--renyi-qs", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9, 1.1])
    p.add_argument("--grid-components", type=int, default=3)
    p.add_argument("--grid-bins", type=int, default=10)
    p.add_argument("--ball-components", type=int, default=4)
    p.add_argument("--ball-samples", type=int, default=100_000)
    p.add_argument("--be-estimator", choices=["paper", "corrected"],
                   help="behavioral-entropy estimator (default: the paper's)")
    p.set_defaults(run=_coverage)

    p = stages.add_parser("embed", help="joint t-SNE or PHATE map of a domain's datasets")
    sample_flags(p, "")
    p.add_argument("--method", required=True, choices=["tsne", "phate"])
    p.add_argument("--space", default="state", choices=["state", "representation"])
    p.add_argument("--encoder", type=Path, help="the domain's encoder (representation space)")
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--phate-knn", type=int, default=5)
    p.set_defaults(run=_embed)

    p = stages.add_parser("estimator-study", help="entropy estimators against known entropies")
    p.add_argument("--sizes", type=int, nargs="+", required=True)
    p.add_argument("--ks", type=int, nargs="+", required=True)
    p.add_argument("--dims", type=int, nargs="+", required=True)
    p.add_argument("--repeats", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help=".csv")
    p.set_defaults(run=_estimator_study)

    def distill_flags(p):
        p.add_argument("--data", type=Path, required=True, help="the dataset relabelled for --task (.npz)")
        p.add_argument("--agents", type=Path, required=True, help="the teacher's agents file (output of `train`)")
        p.add_argument("--task", required=True)
        for kind, names in DISTILL_SETTINGS.items():
            for name in names:  # choices are checked by DistillConfig (importing it here is slow)
                parse = {"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}
                p.add_argument("--" + name.replace("_", "-"), **parse,
                               help="default: OBD's value (berl.distill.DistillConfig)")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--out", type=Path, required=True)

    p = stages.add_parser("distill", help="distil a dataset into a few synthetic (state, action) pairs")
    distill_flags(p)
    p.add_argument("--outer-steps", type=int, required=True)
    p.add_argument("--eval-every", type=int, default=0, help="outer steps between scores (0: at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--generalisation", action=argparse.BooleanOptionalAction, default=False,
                   help="also score the final set with 2/3/5-layer policies, Adam and 10-policy ensembles")
    p.set_defaults(run=_distill)

    p = stages.add_parser("distill-baselines", help="whole-data BC and teacher scores for Table 2")
    distill_flags(p)
    p.add_argument("--bc-steps", type=int, required=True, help="Adam steps of BC on the whole dataset")
    p.set_defaults(run=_distill_baselines)

    def report_stage(name, help_text):
        p = stages.add_parser(name, help=help_text)
        p.add_argument("--preset", required=True, help="recorded in the output")
        p.add_argument("--config-hash", required=True, help="recorded in the output")
        p.set_defaults(run=_report)
        return p

    p = report_stage("table1", "write Table 1 (family best and full) as PDF, CSV and LaTeX")
    p.add_argument("--returns", type=Path, required=True, help="output of `aggregate`")
    p.add_argument("--tasks", nargs="+", required=True)
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/table1")
    p = report_stage("fig4", "draw return versus alpha and q")
    p.add_argument("--returns", type=Path, required=True, help="output of `aggregate`")
    p.add_argument("--out", type=Path, required=True, help=".pdf")
    p = report_stage("iqm", "interquartile means with bootstrap intervals (CSV and PDF)")
    p.add_argument("--returns", type=Path, required=True, help="output of `aggregate`")
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/iqm")
    p = report_stage("learning-curves", "draw learning curves from evaluation files")
    p.add_argument("--datasets", required=True, help=datasets_help)
    p.add_argument("--out", type=Path, required=True, help=".pdf")
    p.add_argument("eval_files", type=Path, nargs="+")
    p = report_stage("table-coverage", "write the coverage table as PDF, CSV and LaTeX")
    p.add_argument("--coverage", type=Path, nargs="+", required=True, help="outputs of `coverage`")
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/table_coverage")
    p = report_stage("fig-coverage", "draw the joint embeddings, a panel per dataset")
    p.add_argument("--method", required=True, choices=["tsne", "phate"])
    p.add_argument("--embeddings", nargs="+", required=True, metavar="DOMAIN=PATH",
                   help="outputs of `embed`, one per domain")
    p.add_argument("--datasets", required=True, help=datasets_help)
    p.add_argument("--out", type=Path, required=True, help=".pdf")
    p = report_stage("fig-coverage-vs-return", "coverage measures against offline returns")
    p.add_argument("--coverage", type=Path, nargs="+", required=True, help="outputs of `coverage`")
    p.add_argument("--returns", type=Path, required=True, help="output of `aggregate`")
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/fig_coverage_vs_return")
    p = report_stage("table2", "write Table 2 (distillation scores) as PDF, CSV and LaTeX")
    p.add_argument("--distilled", type=Path, nargs="+", required=True, help="outputs of `distill`")
    p.add_argument("--baselines", type=Path, nargs="+", required=True,
                   help="outputs of `distill-baselines`")
    p.add_argument("--datasets", required=True, help=datasets_help)
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/table2_obd")
    for name, help_text in (("fig-obd-size", "draw the Av-PBC score versus N_syn"),
                            ("fig-obd-convergence", "draw the score versus outer step per objective")):
        p = report_stage(name, help_text)
        p.add_argument("--distilled", type=Path, nargs="+", required=True, help="outputs of `distill`")
        p.add_argument("--out", type=Path, required=True, help=".pdf")
        if name == "fig-obd-size":  # its lines take their family's colour
            p.add_argument("--datasets", required=True, help=datasets_help)
    p = report_stage("reproduction", "score each published claim: measured value, interval and verdict")
    p.add_argument("--returns", type=Path, required=True, help="output of `aggregate`")
    p.add_argument("--tasks", nargs="+", required=True)
    p.add_argument("--coverage", type=Path, nargs="+", required=True, help="outputs of `coverage`")
    p.add_argument("--distilled", type=Path, nargs="+", required=True, help="outputs of `distill`")
    p.add_argument("--baselines", type=Path, nargs="+", required=True,
                   help="outputs of `distill-baselines`")
    p.add_argument("--sizes", type=Path, nargs="+", required=True, help="Av-PBC sets of every size")
    p.add_argument("--out-prefix", type=Path, required=True, help="e.g. reports/reproduction")
    p = report_stage("fig-estimator-accuracy", "draw the estimator study")
    p.add_argument("--study", type=Path, required=True, help="output of `estimator-study`")
    p.add_argument("--out", type=Path, required=True, help=".pdf")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .log import DivergenceError, configure_logging

    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, DivergenceError) as error:
        # Bad input or a diverging run: the message names the culprit; a traceback adds nothing.
        print(f"berl {args.stage}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
