"""crack-train device: which devices torch sees and the precision ``auto`` picks (the GUI calls it with --json)."""
from __future__ import annotations

import json

from trainer.training.device import device_report


def run(args) -> int:
    info = device_report()
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"torch {info['torch']}; precision auto -> {info['precision_auto']}; CPU bf16: "
          f"{'yes' if info['bf16_cpu'] else 'no'}")
    for d in info["cuda"]:
        print(f"  cuda:{d['index']} {d['name']} ({d['memory_gb']} GiB, bf16 {'yes' if d['bf16'] else 'no'})")
    if not info["cuda"]:
        print("  no CUDA GPU visible to torch")
    return 0
