"""crack-train train: train a run, or resume one."""
from __future__ import annotations

from trainer.cli.progress import LogStream, ProgressPrinter, print_result
from trainer.config import load_config, parse_overrides
from trainer.training.loop import train


def run(args) -> int:
    if args.resume:
        cfg = parse_overrides(args.set) if args.set else None
    else:
        cfg = load_config(args.config, args.set, preset=args.preset)
    progress = ProgressPrinter()
    result = train(args.data, args.out, cfg, resume=args.resume, events_stdout=args.events,
                   log_stream=LogStream(progress), listeners=[progress])
    progress.clear()
    if not args.events:
        print_result(result)
    return 0
