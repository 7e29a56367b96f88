"""Command line for single stages: ``python -m berl <stage> --help``.

The Snakemake rules call these same entry points, so a stage behaves identically inside
and outside the workflow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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
    sizes = {"hidden_dim": args.hidden_dim, "batch_size": args.batch_size,
             "seed_frames": args.seed_frames, "encoder_online": args.encoder_online}
    collect(args.domain, spec, args.transitions, args.seed, args.out, sizes=sizes,
            encoder_path=args.encoder, device=pick_device())


def _pretrain_encoder(args) -> None:
    from .device import pick_device, set_threads
    from .encoder import pretrain

    set_threads(args.threads)
    pretrain(args.manifest, args.out, args.steps, args.batch_size, args.hidden_dim,
             pick_device(), log_every=args.log_every)


def _relabel(args) -> None:
    from .relabel import relabel

    relabel(args.manifest, args.task, args.out)


def _train(args) -> None:
    from .device import pick_device, set_threads
    from .offline.train import train

    set_threads(args.threads)
    data = {}
    for item in args.data:
        task, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"train: --data takes TASK=PATH, got {item!r}")
        data[task] = Path(path)
    train(
        args.algorithm, data, args.out, list(range(args.seeds)), args.steps,
        {"hidden_dim": args.hidden_dim, "batch_size": args.batch_size}, pick_device(),
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


def _report(args) -> None:
    from . import figures
    from .report import provenance, write_table1

    meta = provenance(args.preset, args.config_hash)
    if args.stage == "table1":
        write_table1(args.returns, args.tasks, args.out_prefix, meta)
    elif args.stage == "fig4":
        figures.write_fig4(args.returns, args.out, meta)
    elif args.stage == "iqm":
        figures.write_iqm(args.returns, args.out_prefix, meta)
    else:
        figures.write_learning_curves(args.eval_files, json.loads(args.datasets), args.out, meta)


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
    p.add_argument("--encoder-online", action=argparse.BooleanOptionalAction, default=True,
                   help="APT keeps training its encoder while exploring")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
