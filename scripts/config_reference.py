"""Write the README's config-reference table from the config schema (trainer/schema.py).

    python scripts/config_reference.py          # rewrite the table in README.md
    python scripts/config_reference.py --check  # exit 1 when README.md is not current (the test suite checks it)

The table sits between the markers ``<!-- config-reference:start -->`` and ``<!-- config-reference:end -->``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trainer.config import dumps_value
from trainer.schema import KEYS, PRESETS  # noqa: E402

README = ROOT / "README.md"
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def table() -> str:
    """The Markdown table of every key, then the presets line."""
    lines = ["| key | default | allowed | title (report name) | group | meaning | published run |",
             "|---|---|---|---|---|---|---|"]
    for k in KEYS.values():
        title = k.title + (f" ({k.report_name})" if k.report_name and k.report_name != k.title else "")
        lines.append(f"| `{k.name}` | `{dumps_value(k.default)}` | {k.bounds_text()} | {title} | {k.group} | "
                     f"{k.help} | {k.published} |")
    presets = "; ".join(f"`{name}` (" + (", ".join(f"`{key} = {dumps_value(v)}`" for key, v in values.items())
                                          or "the defaults") + ")" for name, values in PRESETS.items())
    lines += ["", f"Presets: {presets}."]
    return "\n".join(lines)


def updated(text: str) -> str:
    """``text`` (the README) with the table between the markers replaced."""
    if START not in text or END not in text:
        raise SystemExit(f"{README}: the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that README.md is current")
    args = ap.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{README}: the config reference is out of date; run python scripts/config_reference.py")
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"{README}: config reference rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
