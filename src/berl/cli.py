"""Command line for single stages: ``python -m berl <stage> --help``.

The Snakemake rules call these same entry points, so a stage behaves identically inside
and outside the workflow. :data:`STAGES` is the table of them: each :class:`Stage` names
what it runs, the arguments it takes besides its settings, and the configuration blocks it
reads (:class:`Block`), each as a settings dataclass of ``berl.<stage>.settings``. A job
of the workflow gets its stage's completed blocks as one JSON argument, ``--settings``,
which its log records; on the command line each field is also a flag, which overrides
the block, and a field that neither gives keeps the dataclass's default. The settings
modules are light; a stage's computing module is imported only when it runs, so a job
imports its own stage's modules and no others, and ``--help`` imports none.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from berl.config import STAGE_SETTINGS
from berl.core import settings as stage_settings
from berl.core.constants import EMBEDDING_METHODS
from berl.core.validate import InputError
from berl.coverage.settings import CoverageSettings, EmbeddingSettings, StudySettings
from berl.datasets.envs import DOMAINS, TASKS
from berl.distill.settings import BaselineSettings, DistillRun
from berl.explore.settings import CollectSettings, ExploreSettings, PretrainSettings
from berl.offline.settings import ALGORITHM_CONFIGS, EvaluateSettings, TrainSettings

DATASETS_HELP = "the configuration's dataset entries, as JSON"


def _named_paths(flag: str, items: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` arguments as a dict."""
    named = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise InputError(f"{flag} takes NAME=PATH, got {item!r}")
        named[name] = Path(path)
    return named


def _threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1, help="torch's threads (the rule's `threads`)")


def _device(args):
    """Set torch's threads from the rule's, keep freed memory for reuse, and pick the job's device."""
    from berl.core.device import keep_freed_memory, pick_device, set_threads

    set_threads(args.threads)
    keep_freed_memory()
    return pick_device()


# ------------------------------------------------------------------------ datasets


def _parsed_json(text: str, flag: str):
    """A JSON command-line value; one that does not parse is bad input naming its flag."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{flag}: {exc}") from exc


def _json_object(text: str) -> dict:
    """An argparse type: its ValueError (a JSONDecodeError too) becomes a usage error."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


_json_object.__name__ = "JSON object"  # how argparse names the type in its message


def _settings_argument(text: str) -> dict:
    """An argparse type: ``--settings`` as JSON text, or ``@PATH`` of a JSON file."""
    where = "JSON text"
    if text.startswith("@"):
        where = text[1:]
        try:
            text = Path(where).read_text()
        except OSError as error:
            raise argparse.ArgumentTypeError(f"{where}: {error.strerror}") from error
    try:
        return _json_object(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{where}: not a JSON object ({error})") from error


@dataclass(frozen=True)
class Block:
    """A configuration block that a stage reads: block ``key`` of a preset, as the settings
    dataclass ``settings`` (the block's own, or one holding the part of its fields the stage
    takes). Its flag fields are also flags, named with ``prefix``; ``lead`` opens their help."""

    key: str
    settings: type
    prefix: str = ""
    lead: str = ""

    def read(self, args: argparse.Namespace):
        """The block's settings: its ``--settings`` entry, the flags given over it."""
        block = (getattr(args, "settings", None) or {}).get(self.key, {})
        values = block | stage_settings.given(self.settings, args, prefix=self.prefix)
        try:
            return stage_settings.build(self.settings, values, block=STAGE_SETTINGS[self.key])
        except ValueError as error:
            raise InputError(f"the {self.key} settings (--settings or flags): {error}") from error


@dataclass(frozen=True)
class Stage:
    """One entry point: its help, what it runs, the arguments it takes besides its settings,
    the blocks it reads (``args.settings`` holds them, by key, when it runs), and whether it
    takes the rule's ``--threads``."""

    help: str
    run: Callable[[argparse.Namespace], None]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    blocks: tuple[Block, ...] = ()
    threads: bool = False

    def build(self, parser: argparse.ArgumentParser) -> None:
        self.arguments(parser)
        if self.blocks:
            keys = ", ".join(block.key for block in self.blocks)
            parser.add_argument("--settings", type=_settings_argument, metavar="JSON",
                                help=f"the completed configuration blocks {keys}, as {{block: {{key: value}}}} "
                                     "(JSON text or @file; what a job of the workflow gets); the flags below "
                                     "override it")
        for block in self.blocks:
            stage_settings.add_flags(parser, block.settings, prefix=block.prefix, lead=block.lead)
        if self.threads:
            _threads(parser)
        parser.set_defaults(run=self.run, read_settings=self.read_settings)

    def read_settings(self, args: argparse.Namespace) -> dict:
        """Each block's settings, by key; a block ``--settings`` names that the stage does not
        read is bad input."""
        stray = sorted(set(getattr(args, "settings", None) or {}) - {block.key for block in self.blocks})
        if stray:
            raise InputError(f"--settings: block(s) {', '.join(stray)} are not read here (this stage reads: "
                             f"{', '.join(block.key for block in self.blocks)})")
        return {block.key: block.read(args) for block in self.blocks}


# ------------------------------------------------------------- datasets and explore


def _collect_arguments(p):
    p.add_argument("--domain", required=True, choices=DOMAINS)
    p.add_argument("--dataset", action="append", required=True, type=_json_object, metavar="JSON",
                   help='a dataset entry of the configuration, e.g. \'{"agent": "apt", "reward": "be", "alpha": 0.5}\'; '
                        "repeated, the datasets are collected together by explorers of one kind in lockstep")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="each dataset's exploration seed")
    p.add_argument("--out", type=Path, nargs="+", required=True, help="each dataset's folder")
    p.add_argument("--encoder", type=Path, help="pretrained encoder (APT)")


def _collect(args) -> None:
    from berl.explore.collect import Member, collect_group

    if not len(args.dataset) == len(args.seed) == len(args.out):
        raise InputError(f"{len(args.dataset)} --dataset, {len(args.seed)} --seed and {len(args.out)} --out "
                         "values: give one of each per dataset")
    # The entry's name and seed offset are the workflow's; the explorer is the rest.
    members = [Member({k: v for k, v in spec.items() if k not in ("name", "seed")}, seed, out)
               for spec, seed, out in zip(args.dataset, args.seed, args.out)]
    collect_group(args.domain, members, args.settings["collect"].transitions,
                  settings=asdict(args.settings["explore"]), encoder_path=args.encoder, device=_device(args))


def _pretrain_encoder_arguments(p):
    p.add_argument("--manifest", type=Path, required=True, help="a uniform-random dataset")
    p.add_argument("--out", type=Path, required=True)


def _pretrain_encoder(args) -> None:
    from berl.explore.encoder import pretrain

    pretrain(args.manifest, args.out, args.settings["encoder"], _device(args))


def _import_exorl_arguments(p):
    p.add_argument("--source", type=Path, required=True, help="the agent's folder of ExORL episodes (or its buffer/)")
    p.add_argument("--domain", required=True, choices=DOMAINS)
    p.add_argument("--out", type=Path, required=True, help="dataset folder")


def _import_exorl(args) -> None:
    from berl.datasets.exorl import import_exorl

    import_exorl(args.source, args.out, args.domain, args.settings["collect"].transitions)


def _export_minari_arguments(p):
    p.add_argument("--manifest", type=Path, required=True, help="the dataset's manifest.json")
    p.add_argument("--relabelled", nargs="+", required=True, metavar="TASK=PATH",
                   help="the dataset relabelled for each task to export")
    p.add_argument("--dataset", required=True, help="the dataset's name (Minari id <domain>/<dataset>/<task>-v0)")
    p.add_argument("--spec", default="{}", help="the dataset's configuration entry (JSON), kept as metadata")
    p.add_argument("--preset", default="", help="kept as metadata")
    p.add_argument("--config-hash", default="", help="kept as metadata")
    p.add_argument("--out", type=Path, required=True, help="<Minari root>/<domain>/<dataset>")


def _export_minari(args) -> None:
    from berl.datasets.minari_export import export_minari

    metadata = {**_parsed_json(args.spec, "--spec"), "preset": args.preset, "config_hash": args.config_hash}
    for dataset_id in export_minari(args.manifest, _named_paths("--relabelled", args.relabelled),
                                    args.out, args.dataset, metadata):
        print(dataset_id)


def _import_d4rl_arguments(p):
    p.add_argument("--dataset", required=True, help="a D4RL name (hopper-medium-v2) or a Minari id (mujoco/hopper/medium-v0)")
    p.add_argument("--root", type=Path, default=Path("data/d4rl"), help="folder of the D4RL files <name>.hdf5")
    p.add_argument("--out", type=Path, required=True, help="transitions .npz")
    p.add_argument("--info", type=Path, required=True, help="the dataset's task and reference returns (.json)")


def _import_d4rl(args) -> None:
    from berl.datasets.d4rl import import_d4rl

    import_d4rl(args.dataset, args.root, args.out, args.info)


def _fetch_d4rl_arguments(p):
    p.add_argument("datasets", nargs="+", metavar="MINARI_ID", help="e.g. mujoco/hopper/medium-v0")


def _fetch_d4rl(args) -> None:
    from berl.datasets.d4rl import fetch

    fetch(args.datasets)


def _relabel_arguments(p):
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--out", type=Path, required=True, help="transitions .npz")


def _relabel(args) -> None:
    from berl.datasets.relabel import relabel

    relabel(args.manifest, args.task, args.out)


# ------------------------------------------------------------------------- offline


def _algorithm_fields() -> dict[str, list[str]]:
    """Each field of the algorithms' configs that the training settings leave out, with
    the algorithms that have it."""
    covered = {f.name for f in fields(TrainSettings)}
    owners: dict[str, list[str]] = {}
    for name, config_cls in ALGORITHM_CONFIGS.items():
        for item in fields(config_cls):
            if item.name not in covered:
                owners.setdefault(item.name, []).append(name)
    return owners


def _train_arguments(p):
    p.add_argument("--algorithm", default="td3", choices=list(ALGORITHM_CONFIGS))
    p.add_argument("--data", nargs="+", required=True, metavar="TASK=PATH",
                   help="the dataset relabelled for each task (relabel's .npz files)")
    p.add_argument("--out", type=Path, required=True, help="agents file (.pt)")
    p.add_argument("--dataset", default="", help="dataset name, for the tables")
    p.add_argument("--eval-out", type=Path, help="learning curves and returns (.json)")
    group = p.add_argument_group("algorithm settings", "fields of the algorithm's config (berl.offline.settings); "
                                                       "left out, the algorithm's default (ExORL's value)")
    for name, owners in _algorithm_fields().items():
        stage_settings.add_flag(group, name, stage_settings.describe(ALGORITHM_CONFIGS[owners[0]])[name],
                                lead=", ".join(owners) + ": ")


def _train(args) -> None:
    from berl.offline.train import train

    settings = args.settings["offline"]
    # The algorithm's flags given override its switches in the block.
    switches = {name: getattr(args, name) for name in _algorithm_fields() if hasattr(args, name)}
    if switches:
        settings = replace(settings, **{args.algorithm: getattr(settings, args.algorithm, {}) | switches})
    train(args.algorithm, _named_paths("--data", args.data), args.out, settings, args.settings["evaluate"],
          _device(args), eval_path=args.eval_out, dataset=args.dataset)


def _evaluate_arguments(p):
    p.add_argument("--agent", type=Path, required=True, help="output of `train`")
    p.add_argument("--dataset", default="", help="dataset name, for the tables")
    p.add_argument("--out", type=Path, required=True)


def _evaluate(args) -> None:
    from berl.offline.evaluate import evaluate

    _device(args)  # evaluation runs on the CPU; this sets the threads
    evaluate(args.agent, args.dataset, args.settings["evaluate"], args.out)


def _random_reference_arguments(p):
    p.add_argument("--task", required=True, choices=list(TASKS))
    p.add_argument("--out", type=Path, required=True)


def _random_reference(args) -> None:
    from berl.offline.evaluate import random_reference

    random_reference(args.task, args.settings["evaluate"], args.out)


# ------------------------------------------------------------------------ coverage


def _sample_arguments(p):
    p.add_argument("--manifests", nargs="+", required=True, metavar="DATASET=PATH",
                   help="each dataset's manifest.json")
    p.add_argument("--out", type=Path, required=True, help=".csv")


def _coverage_arguments(p):
    _sample_arguments(p)
    p.add_argument("--domain", required=True, choices=DOMAINS)
    p.add_argument("--datasets", required=True, help=DATASETS_HELP)
    p.add_argument("--encoder", type=Path, required=True, help="the domain's frozen encoder")


def _coverage(args) -> None:
    from berl.coverage.measures import measure

    _device(args)
    measure(args.domain, _named_paths("--manifests", args.manifests), _parsed_json(args.datasets, "--datasets"),
            args.encoder, args.settings["coverage"], args.out)


def _embed_arguments(p):
    _sample_arguments(p)
    p.add_argument("--method", required=True, choices=EMBEDDING_METHODS)
    p.add_argument("--encoder", type=Path, help="the domain's encoder (representation space)")


def _embed(args) -> None:
    from berl.coverage.embedding import joint_embedding

    _device(args)
    joint_embedding(_named_paths("--manifests", args.manifests), args.method, args.out,
                    args.settings["embedding"], encoder_path=args.encoder,
                    threads=args.threads)


def _estimator_study(args) -> None:
    from berl.coverage.estimator_study import run_study

    _device(args)
    run_study(args.settings["estimator_study"], args.settings["coverage"], args.out)


# ------------------------------------------------------------------------- distill


def _distill_arguments(p):
    p.add_argument("--data", type=Path, required=True, help="the dataset relabelled for --task (.npz)")
    p.add_argument("--agents", type=Path, required=True, help="the teacher's agents file (output of `train`)")
    p.add_argument("--task", required=True)
    p.add_argument("--out", type=Path, required=True)


def _distill(args) -> None:
    from berl.distill.obd import distill

    distill(args.data, args.agents, args.task, args.settings["distill"], args.out, _device(args),
            generalisation=args.generalisation)


def _generalisation_argument(p):
    _distill_arguments(p)
    p.add_argument("--generalisation", action="store_true",
                   help="also score the final set with 2/3/5-layer policies, Adam and 10-policy ensembles")


def _distill_baselines(args) -> None:
    from berl.core.io import write_json
    from berl.distill.obd import baselines

    write_json(args.out, baselines(args.data, args.agents, args.task, args.settings["distill"], _device(args)))


# ------------------------------------------------------------------------- reports


def _report_flags(p, *arguments: str) -> None:
    """The provenance every report records, and the report's inputs and outputs by name."""
    p.add_argument("--preset", required=True, help="recorded in the output")
    p.add_argument("--config-hash", required=True, help="recorded in the output")
    inputs = {
        "returns": dict(type=Path, required=True, help="output of `aggregate`"),
        "tasks": dict(nargs="+", required=True),
        "coverage": dict(type=Path, nargs="+", required=True, help="outputs of `coverage`"),
        "distilled": dict(type=Path, nargs="+", required=True, help="outputs of `distill`"),
        "baselines": dict(type=Path, nargs="+", required=True, help="outputs of `distill-baselines`"),
        "sizes": dict(type=Path, nargs="+", required=True, help="Av-PBC sets of every size"),
        "datasets": dict(required=True, help=DATASETS_HELP),
        "method": dict(required=True, choices=EMBEDDING_METHODS),
        "embeddings": dict(nargs="+", required=True, metavar="DOMAIN=PATH", help="outputs of `embed`, one per domain"),
        "study": dict(type=Path, required=True, help="output of `estimator-study`"),
        "info": dict(type=Path, nargs="+", required=True, help="outputs of `import-d4rl` (--info)"),
        "random_reference": dict(type=Path, nargs="+", required=True,
                                 help="outputs of `random-reference`, one per task"),
        "d4rl_scores": dict(type=Path, help="the D4RL table's scores per run (none: its claims are not tested)"),
        "out": dict(type=Path, required=True, help=".pdf"),
        "out_prefix": dict(type=Path, required=True, help="the outputs' path without suffix, e.g. reports/table1"),
    }
    for name in arguments:
        if name == "eval_files":
            p.add_argument("eval_files", type=Path, nargs="+", help="outputs of `train` (--eval-out)")
        else:
            p.add_argument("--" + name.replace("_", "-"), **inputs[name])


def _report(help_text: str, inputs: tuple[str, ...], write) -> Stage:
    """A report stage: its inputs' flags, and a run that calls ``write(args, provenance)``
    (which imports its module of ``berl.reports`` only then)."""

    def run(args) -> None:
        from berl.reports.common import provenance

        write(args, provenance(args.preset, args.config_hash))

    return Stage(help_text, run, arguments=lambda p: _report_flags(p, *inputs))


def _reports(module: str):
    return importlib.import_module(f"berl.reports.{module}")


def _aggregate_arguments(p):
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--datasets", required=True, help=DATASETS_HELP)
    p.add_argument("eval_files", type=Path, nargs="+")


def _aggregate(args) -> None:
    from berl.reports.offline import aggregate

    aggregate(args.eval_files, args.out, _parsed_json(args.datasets, "--datasets"))


# name: the stage, in the pipeline's order
STAGES: dict[str, Stage] = {
    "pretrain-encoder": Stage("pretrain a domain's state encoder", _pretrain_encoder,
                              _pretrain_encoder_arguments, (Block("encoder", PretrainSettings),), threads=True),
    "collect": Stage("collect an exploration dataset", _collect, _collect_arguments,
                     (Block("collect", CollectSettings), Block("explore", ExploreSettings)), threads=True),
    "import-exorl": Stage("import one of ExORL's datasets (episode files) as a dataset", _import_exorl,
                          _import_exorl_arguments, (Block("collect", CollectSettings),)),
    "relabel": Stage("relabel a dataset with one task's reward", _relabel, _relabel_arguments),
    "import-d4rl": Stage("check a D4RL file or Minari dataset and write it as transitions", _import_d4rl,
                         _import_d4rl_arguments),
    "fetch-d4rl": Stage("download Minari's D4RL datasets (needs internet)", _fetch_d4rl, _fetch_d4rl_arguments),
    "export-minari": Stage("export a dataset as local Minari datasets, one per task", _export_minari,
                           _export_minari_arguments),
    "train": Stage("train offline agents (every task x seed) as one batch", _train, _train_arguments,
                   (Block("offline", TrainSettings), Block("evaluate", EvaluateSettings, prefix="eval_")),
                   threads=True),
    "evaluate": Stage("roll out trained agents, each in its own task", _evaluate, _evaluate_arguments,
                      (Block("evaluate", EvaluateSettings),), threads=True),
    "random-reference": Stage("returns of the uniform-random policy on a task", _random_reference,
                              _random_reference_arguments, (Block("evaluate", EvaluateSettings),)),
    "coverage": Stage("entropy and volumetric coverage of a domain's datasets", _coverage, _coverage_arguments,
                      (Block("coverage", CoverageSettings),), threads=True),
    "embed": Stage("joint t-SNE or PHATE map of a domain's datasets", _embed, _embed_arguments,
                   (Block("embedding", EmbeddingSettings),), threads=True),
    "estimator-study": Stage("entropy estimators against known entropies", _estimator_study,
                             lambda p: p.add_argument("--out", type=Path, required=True, help=".csv"),
                             (Block("estimator_study", StudySettings),
                              Block("coverage", CoverageSettings, prefix="coverage_", lead="the coverage stage's: ")),
                             threads=True),
    "distill": Stage("distil a dataset into a few synthetic (state, action) pairs", _distill,
                     _generalisation_argument, (Block("distill", DistillRun),), threads=True),
    "distill-baselines": Stage("whole-data BC and teacher scores for Table 2", _distill_baselines,
                               _distill_arguments, (Block("distill", BaselineSettings),), threads=True),
    "aggregate": Stage("gather evaluation files into one CSV", _aggregate, _aggregate_arguments),
    "table1": _report(
        "write Table 1 (family best and full) as PDF, CSV and LaTeX",
        ("returns", "tasks", "random_reference", "out_prefix"),
        lambda a, meta: _reports("offline").write_table1(a.returns, a.tasks, a.random_reference, a.out_prefix,
                                                         meta)),
    "fig4": _report(
        "draw return versus alpha and q", ("returns", "random_reference", "out"),
        lambda a, meta: _reports("offline").write_fig4(a.returns, a.random_reference, a.out, meta)),
    "iqm": _report(
        "interquartile means with bootstrap intervals (CSV and PDF)", ("returns", "out_prefix"),
        lambda a, meta: _reports("offline").write_iqm(a.returns, a.out_prefix, meta)),
    "learning-curves": _report(
        "draw learning curves from evaluation files", ("datasets", "random_reference", "out", "eval_files"),
        lambda a, meta: _reports("offline").write_learning_curves(a.eval_files, _parsed_json(a.datasets, "--datasets"),
                                                                  a.random_reference, a.out, meta)),
    "table-coverage": _report(
        "write the coverage table as PDF, CSV and LaTeX", ("coverage", "study", "out_prefix"),
        lambda a, meta: _reports("coverage").write_table_coverage(a.coverage, a.study, a.out_prefix, meta)),
    "fig-coverage": _report(
        "draw the joint embeddings, a panel per dataset", ("method", "embeddings", "datasets", "out"),
        lambda a, meta: _reports("coverage").write_embedding_figure(
            _named_paths("--embeddings", a.embeddings), _parsed_json(a.datasets, "--datasets"), a.method, a.out, meta)),
    "fig-coverage-vs-return": _report(
        "coverage measures against offline returns", ("coverage", "returns", "out_prefix"),
        lambda a, meta: _reports("coverage").write_coverage_vs_return(a.coverage, a.returns, a.out_prefix, meta)),
    "fig-estimator-accuracy": _report(
        "draw the estimator study", ("study", "out"),
        lambda a, meta: _reports("coverage").write_estimator_figure(a.study, a.out, meta)),
    "table2": _report(
        "write Table 2 (distillation scores) as PDF, CSV and LaTeX", ("distilled", "baselines", "datasets", "out_prefix"),
        lambda a, meta: _reports("distill").write_table2(a.distilled, a.baselines, _parsed_json(a.datasets, "--datasets"),
                                                         a.out_prefix, meta)),
    "fig-obd-size": _report(
        "draw the Av-PBC score versus N_syn", ("distilled", "datasets", "out"),
        lambda a, meta: _reports("distill").write_size_figure(a.distilled, _parsed_json(a.datasets, "--datasets"), a.out, meta)),
    "fig-obd-convergence": _report(
        "draw the score versus outer step per objective", ("distilled", "out"),
        lambda a, meta: _reports("distill").write_convergence_figure(a.distilled, a.out, meta)),
    "table-obd-d4rl": _report(
        "write OBD's Table 1 on D4RL beside the published numbers", ("info", "distilled", "baselines", "out_prefix"),
        lambda a, meta: _reports("obd_d4rl").write_table(a.info, a.distilled, a.baselines, a.out_prefix, meta)),
    "reproduction": _report(
        "score each published claim: measured value, interval and verdict",
        ("returns", "tasks", "random_reference", "coverage", "distilled", "baselines", "sizes", "d4rl_scores",
         "out_prefix"),
        lambda a, meta: _reports("reproduction").write_reproduction(
            a.returns, a.tasks, a.coverage, a.distilled, a.baselines, a.sizes, a.out_prefix, meta,
            random_reference=a.random_reference, d4rl_scores=a.d4rl_scores)),
}


def usage_error(prog: str, message: str):
    """A usage error as one line with status 1, like every other bad input."""
    print(f"{prog}: error: {' '.join(message.split())} (see {prog} --help)", file=sys.stderr)
    sys.exit(1)


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        usage_error(self.prog, message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, just that stage's arguments are built (the others
    are listed by name and help)."""
    parser = OneLineParser(prog="berl", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of every error, bad input included (before the stage)")
    stages = parser.add_subparsers(dest="stage", required=True)
    for name, stage in STAGES.items():
        sub = stages.add_parser(name, help=stage.help, description=stage.help)
        if only is None or only == name:
            stage.build(sub)
    return parser


def stage_parser(name: str) -> argparse.ArgumentParser:
    """One stage's own parser, as ``berl <name>`` parses its arguments."""
    parser = OneLineParser(prog=f"berl {name}", description=STAGES[name].help)
    STAGES[name].build(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one stage. Bad input, a failed write and a diverging run end in one line naming the
    culprit, with status 1; anything else is a bug and shows its traceback, with status 2."""
    import traceback

    from berl.core.io import WriteError
    from berl.core.log import DivergenceError, configure_logging, get_logger

    log = get_logger("berl")

    argv = sys.argv[1:] if argv is None else list(argv)
    named = argv[1:] if argv[:1] == ["--debug"] else argv
    stage = named[0] if named and named[0] in STAGES else None
    args, unknown = build_parser(stage).parse_known_args(argv)
    if unknown:
        usage_error(f"berl {args.stage}", f"unrecognized arguments: {' '.join(unknown)}")
    configure_logging()
    try:
        args.settings = args.read_settings(args)
        if args.settings:  # the job's provenance: every setting it ran with
            log.info("settings: %s", json.dumps({key: asdict(value) for key, value in args.settings.items()}))
        args.run(args)
    except (InputError, WriteError, DivergenceError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"berl {args.stage}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a bug: its traceback is what a report needs
        traceback.print_exc()
        print(f"berl {args.stage}: internal error (a bug, not bad input): {type(error).__name__}: "
              f"{' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
