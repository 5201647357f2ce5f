"""Run every benchmark module in a fresh process and rewrite benchmarks/README.md.

python -m benchmarks                 all modules
python -m benchmarks pipeline stack  only bench_pipeline.py and bench_stack.py
python -m benchmarks --quick         fewer iterations (for a smoke run)
python -m benchmarks --no-write      print, do not touch the README
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._harness import machine, versions

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"


def modules(selected: list[str]) -> list[str]:
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if selected:
        wanted = {f"bench_{name.removeprefix('bench_')}" for name in selected}
        names = [name for name in names if name in wanted]
    return names


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.2f} µs"
        if value < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if unit in ("calls/s", "turns/s", "chunks/s"):
        return f"{value:,.0f} {unit}"
    if unit == "bytes":
        return f"{value:,.0f} B"
    return f"{value:g} {unit}"


def table(rows: list[dict[str, object]]) -> str:
    with_ratio = any(row.get("ratio") is not None for row in rows)
    header = "| case | backend | value |" + (" ratio |" if with_ratio else "") + " note |"
    rule = "|---|---|---:|" + ("---:|" if with_ratio else "") + "---|"
    lines = [header, rule]
    for row in rows:
        cells = [
            str(row["case"]),
            str(row["backend"]),
            format_value(float(row["value"]), str(row["unit"])),  # type: ignore[arg-type]
        ]
        if with_ratio:
            ratio = row.get("ratio")
            cells.append(f"{float(ratio):.2f}×" if ratio is not None else "")  # type: ignore[arg-type]
        cells.append(str(row.get("note", "")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(name: str, rows: list[dict[str, object]]) -> str:
    module = importlib.import_module(f"benchmarks.{name}")
    title = getattr(module, "TITLE", name)
    notes = getattr(module, "NOTES", "").strip()
    parts = [f"<!-- results:{name} -->", f"### {title}", ""]
    if notes:
        parts += [notes, ""]
    render = getattr(module, "table", table)  # a module may lay out its own table
    parts += [render(rows), f"<!-- /results:{name} -->"]
    return "\n".join(parts)


def write(sections: dict[str, str], header: str) -> None:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    text = re.sub(
        r"<!-- machine -->.*?<!-- /machine -->",
        lambda _: f"<!-- machine -->\n{header}\n<!-- /machine -->",
        text,
        flags=re.S,
    )
    for name, body in sections.items():
        pattern = re.compile(rf"<!-- results:{name} -->.*?<!-- /results:{name} -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _, body=body: body, text)
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
    README.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sections: dict[str, str] = {}
    for name in modules(args.names):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        command = [sys.executable, "-m", f"benchmarks.{name}"]
        if args.quick:
            command.append("--quick")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        rows = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        sections[name] = section(name, rows)
        print(sections[name] + "\n")
    header = (
        f"Measured {datetime.date.today().isoformat()} on {machine()}; "
        f"{versions('aether-llm', 'pydantic', 'anyio', 'trio', 'openai', 'tenacity')}."
    )
    if not args.no_write and sections:
        write(sections, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
