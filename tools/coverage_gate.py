"""Coverage floors per group of modules, read from coverage's JSON report (``make test``).

The groups and their floors are in pyproject.toml, ``[tool.coverage_gate.<group>]``: ``floor``
(percent of statements executed) and ``files`` (glob patterns relative to the repository root). A
group's figure is its files' executed statements over their statements, all files together. The
overall floor is pytest-cov's ``--cov-fail-under`` in the Makefile; this prints it too.

    python tools/coverage_gate.py [coverage.json]

Exit status 1 when a group is below its floor, or a pattern matches no measured file (a module moved
or renamed must be moved in the group too, not drop out of it silently).
"""

from __future__ import annotations

import fnmatch
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def groups_load(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, dict]:
    return tomllib.loads(pyproject.read_text())["tool"]["coverage_gate"]


def group_measure(files: dict[str, dict], patterns: list[str]) -> tuple[int, int, list[str], list[str]]:
    """(executed, statements, matched files, patterns matching nothing) of one group."""
    matched: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        hits = [name for name in files if fnmatch.fnmatchcase(name, pattern)]
        if not hits:
            unmatched.append(pattern)
        matched.extend(h for h in hits if h not in matched)
    executed = sum(files[name]["summary"]["covered_lines"] for name in matched)
    statements = sum(files[name]["summary"]["num_statements"] for name in matched)
    return executed, statements, sorted(matched), unmatched


def percent(executed: int, statements: int) -> float:
    return 100.0 * executed / statements if statements else 100.0


def main(argv: list[str]) -> int:
    report = Path(argv[1]) if len(argv) > 1 else ROOT / "coverage.json"
    if not report.exists():
        print(f"coverage gate: {report} is missing (the test run stopped before writing its report)")
        return 1
    data = json.loads(report.read_text())
    files = {Path(name).as_posix(): entry for name, entry in data["files"].items()}
    totals = data["totals"]
    failed = False
    print(f"\ncoverage gate ({report.name}): statements executed, per group")
    print(
        f"  {'overall':<10} {totals['percent_covered']:6.1f} %  "
        f"({totals['covered_lines']}/{totals['num_statements']}; floor: --cov-fail-under)"
    )
    for name, group in groups_load().items():
        executed, statements, matched, unmatched = group_measure(files, group["files"])
        value = percent(executed, statements)
        ok = value >= group["floor"] and not unmatched
        failed |= not ok
        print(
            f"  {name:<10} {value:6.1f} %  ({executed}/{statements} in {len(matched)} files; "
            f"floor {group['floor']} %) {'ok' if ok else 'BELOW FLOOR' if not unmatched else 'FAILED'}"
        )
        for pattern in unmatched:
            print(f"    no measured file matches {pattern!r}: update [tool.coverage_gate.{name}] in pyproject.toml")
        if value < group["floor"]:
            worst = sorted(matched, key=lambda f: files[f]["summary"]["percent_covered"])[:5]
            for f in worst:
                summary = files[f]["summary"]
                print(f"    {f}: {summary['percent_covered']:.1f} % ({summary['missing_lines']} statements not run)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
