"""Move the whole product under the one import name `jingzhun`, with the shared ground in `jingzhun/core/`.

    .venv/bin/python scripts/rename_namespace.py            # on a clean tree at the repository's root
    .venv/bin/python scripts/rename_namespace.py --dry-run  # only say what would move

Run once, by the lead, after every branch is merged (docs/namespace.md says why and what to check). It
1. moves every top-level package (a folder with `__init__.py`) into `jingzhun/`, the rules and the division tables
   with them, and the modules of `jingzhun/` other than the front door (`cli.py`) into `jingzhun/core/`, by
   `git mv`, so history follows the files;
2. rewrites imports (`from matching.link import` -> `from jingzhun.matching.link import`, `from jingzhun import
   rules` -> `from jingzhun.core import rules`) in .py files and notebooks, and module names and paths written in
   strings, comments and documents (`python -m matching.training`, `flows/daily.py`), each only where the new
   module or path exists, so that words like `INBOX/feedback/` or a variable called `matching` stay as they are;
3. sets the wheel to the one package `jingzhun` in pyproject.toml, simplifies the lookup of shipped data in
   jingzhun/core/rules.py and the README's note on the layout, and sorts imports with ruff;
4. checks that no import runs back up the house (core below the stages, the stages below the flows, the flows
   below the front door) and lists the mentions left for a person to read.
It never edits a file it did not find as it expected: anything unexpected stops it before the first move.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

PACKAGE = "jingzhun"
FRONT_DOOR = {"__init__", "__main__", "cli"}  # modules of jingzhun/ that stay at its top: they start the flows
DATA = ("rules", "reference_data")  # folders of data that move inside the package with the code
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".yaml", ".yml", ".toml", ".cfg", ".txt"}
TEXT_NAMES = {"Makefile", "run"}  # .ci/run
SKIPPED = {"scripts/rename_namespace.py", "docs/namespace.md", "uv.lock"}  # they speak of the layout before


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


class Layout:
    """Which names move where, decided from the tree before anything moves."""

    def __init__(self, root: Path, ground: str) -> None:
        self.root, self.ground = root, ground
        self.stages = sorted(p.parent.name for p in root.glob("*/__init__.py") if p.parent.name != PACKAGE)
        self.ground_modules = sorted(p.stem for p in (root / PACKAGE).glob("*.py") if p.stem not in FRONT_DOOR)
        self.data = [d for d in DATA if (root / d).is_dir()]

    def new_module(self, name: str) -> str:
        """The new dotted name of the module `name` (unchanged when it does not move)."""
        top, _, rest = name.partition(".")
        if top in self.stages:
            return f"{PACKAGE}.{name}"
        first = rest.split(".")[0]
        if top == PACKAGE and first in self.ground_modules:
            return f"{PACKAGE}.{self.ground}.{rest}"
        return name

    def exists_after(self, parts: list[str]) -> bool:
        """Whether `jingzhun/<parts...>` names a module, package or file of the moved tree."""
        base = self.root / PACKAGE
        target = base.joinpath(*parts)
        return target.with_suffix(".py").is_file() or target.exists() or any(base.glob("/".join(parts)))


# ---- the rewrites ------------------------------------------------------------------------------------------------

IMPORT = re.compile(
    r'^(?P<lead>[ \t]*"?)(?P<kw>from|import)[ \t]+(?P<mod>[A-Za-z_][\w.]*)(?P<rest>[^\n]*)', re.MULTILINE
)


def rewrite_imports(text: str, layout: Layout, where: str, problems: list[str]) -> str:
    def one(match: re.Match) -> str:
        lead, kw, mod, rest = match["lead"], match["kw"], match["mod"], match["rest"]
        top, code = mod.split(".")[0], rest.split("#")[0]
        if kw == "import":
            if top in layout.stages:
                if "." in mod or "," in code or " as " in code:
                    problems.append(f"{where}: `{match[0].strip()}` needs a hand")
                    return match[0]
                return f"{lead}from {PACKAGE} import {mod}{rest}"  # binds the same name
            if top == PACKAGE and layout.new_module(mod) != mod:
                problems.append(f"{where}: `{match[0].strip()}` needs a hand")
            return match[0]
        if mod == PACKAGE:  # from jingzhun import rules, warehouse
            names = re.findall(r"\w+", rest.split("#")[0].removeprefix(" import"))
            names = [n for n in names if n != "as"]
            moved = [n for n in names if n in layout.ground_modules]
            if moved and len(moved) != len([n for n in names if n in (*layout.ground_modules, *FRONT_DOOR)]):
                problems.append(f"{where}: `{match[0].strip()}` mixes the front door and the ground")
                return match[0]
            return f"{lead}from {PACKAGE}.{layout.ground}{rest}" if moved else match[0]
        return f"{lead}{kw} {layout.new_module(mod)}{rest}"

    return IMPORT.sub(one, text)


def rewrite_words(text: str, layout: Layout) -> str:
    """Module names and paths in prose, strings and comments, where what they name exists after the move."""
    stages = "|".join(map(re.escape, layout.stages))

    def dotted(match: re.Match) -> str:
        parts = match[2].split(".")
        return f"{PACKAGE}.{match[1]}.{match[2]}" if layout.exists_after([match[1], parts[0]]) else match[0]

    text = re.sub(rf"(?<![\w./-])({stages})\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", dotted, text)
    ground = "|".join(map(re.escape, layout.ground_modules))
    text = re.sub(rf"(?<![\w./-]){PACKAGE}\.({ground})\b", rf"{PACKAGE}.{layout.ground}.\1", text)

    folders = "|".join(map(re.escape, [*layout.stages, *layout.data]))

    def path(match: re.Match) -> str:
        second = match[2].split("/")[0].rstrip(".,")
        return f"{PACKAGE}/{match[0]}" if second and layout.exists_after([match[1], second]) else match[0]

    text = re.sub(rf"(?<![\w.-])(?<!{PACKAGE}/)({folders})/([^\s`'\"()\[\]<>|,;:]*)", path, text)
    ground_paths = "|".join(re.escape(f"{m}.py") for m in layout.ground_modules)
    return re.sub(rf"(?<![\w.-]){PACKAGE}/({ground_paths})", rf"{PACKAGE}/{layout.ground}/\1", text)


def rewrite_python(text: str, layout: Layout, where: str, problems: list[str]) -> str:
    """Imports as statements; names and paths only inside strings and comments, never in code, where a variable
    may share a package's name (`matching.matched`)."""
    text = rewrite_imports(text, layout, where, problems)
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans = [
        (offsets[t.start[0] - 1] + t.start[1], offsets[t.end[0] - 1] + t.end[1])
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type in (tokenize.STRING, tokenize.COMMENT)
    ]
    for start, end in reversed(spans):
        text = text[:start] + rewrite_words(text[start:end], layout) + text[end:]
    return text


def rewrite_file(path: Path, layout: Layout, problems: list[str]) -> bool:
    text = path.read_text(encoding="utf-8")
    where = str(path.relative_to(layout.root))
    if path.suffix == ".py":
        new = rewrite_python(text, layout, where, problems)
    elif path.suffix == ".ipynb":  # one source line per JSON string: imports there, words everywhere
        new = rewrite_words(rewrite_imports(text, layout, where, problems), layout)
    else:
        new = rewrite_words(text, layout)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


# ---- the files the script knows by their content ------------------------------------------------------------------

WHEEL_BEFORE = re.compile(
    r"# The wheel holds every package.*?\n\[tool\.hatch\.build\.targets\.wheel\.sources\]\n"
    r"(?:\"[^\n]*\n)+",
    re.DOTALL,
)
WHEEL_AFTER = """# The wheel is the one import name `jingzhun`: the front door (cli.py), the flows, the stages, the
# shared ground (jingzhun/core) and the rules, division tables and model, found through importlib.resources.
[tool.hatch.build.targets.wheel]
packages = ["jingzhun"]
"""
SHIPPED_BEFORE = re.compile(r"def _shipped\(folder: str\) -> Path:\n.*?\n\n\n", re.DOTALL)
SHIPPED_AFTER = '''def _shipped(folder: str) -> Path:
    """A data folder shipped inside the package: `jingzhun/<folder>`, in a checkout as in the wheel."""
    return Path(str(files("jingzhun") / folder))


'''
README_BEFORE = re.compile(r"<!-- layout -->\n.*?<!-- /layout -->\n", re.DOTALL)
README_AFTER = """<!-- layout -->
Everything installs under the one import name `jingzhun`, so that it shares a Prefect or Dask worker with other
packages without a clash. Its layout is the house: `jingzhun/cli.py` is the front door that starts the flows;
`jingzhun/flows/` the run book; the stages (`ingest/` … `reporting/`, `feedback/`) below it; `synthetic/` and
`evaluation/` the demo's district and its measure; `jingzhun/core/` the ground every stage stands on (the
warehouse, the rules, masking, the run, errors, progress), which imports none of them. `jingzhun/rules/` and
`jingzhun/reference_data/` travel with the code; imports only ever go down.
<!-- /layout -->
"""


def edit_known(path: Path, pattern: re.Pattern, replacement: str, problems: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    new, count = pattern.subn(replacement.replace("\\", "\\\\"), text)
    if count != 1:
        problems.append(f"{path}: did not find what to replace ({pattern.pattern[:40]}…); edit it by hand")
    else:
        path.write_text(new, encoding="utf-8")


# ---- the check of the house ---------------------------------------------------------------------------------------


def imports_up(root: Path, ground: str) -> list[str]:
    """Imports that run back up the house: core -> anything above it, a stage -> flows or cli, flows -> cli."""
    rank = {"core": 0, "stage": 1, "flows": 2, "cli": 3}

    def level(module: str) -> int | None:
        parts = module.split(".")
        if parts[0] != PACKAGE or len(parts) < 2:
            return None
        return rank[
            "core"
            if parts[1] == ground
            else "cli"
            if parts[1] in FRONT_DOOR
            else "flows"
            if parts[1] == "flows"
            else "stage"
        ]

    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        own = level(".".join((PACKAGE, *path.relative_to(root / PACKAGE).with_suffix("").parts)))
        for match in IMPORT.finditer(path.read_text(encoding="utf-8")):
            names = [match["mod"]] + (
                [f"{PACKAGE}.{n}" for n in re.findall(r"\w+", match["rest"])] if match["mod"] == PACKAGE else []
            )
            for name in names:
                other = level(name)
                if own is not None and other is not None and other > own:
                    found.append(f"{path.relative_to(root)}: {match[0].strip()}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ground", default="core", help="the name of the shared ground's package (core)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    root = Path(git("rev-parse", "--show-toplevel").strip())
    layout = Layout(root, args.ground)
    if (root / PACKAGE / args.ground).exists():
        sys.exit(f"{PACKAGE}/{args.ground} exists already: the move was done")
    if git("status", "--porcelain", "--untracked-files=no").strip() and not args.dry_run:
        sys.exit("commit or stash first: the move must be one reviewable commit of its own")
    print(f"stages into {PACKAGE}/: {', '.join(layout.stages)}")
    print(f"data into {PACKAGE}/: {', '.join(layout.data)}")
    print(f"ground into {PACKAGE}/{args.ground}/: {', '.join(layout.ground_modules)}")
    if args.dry_run:
        return 0

    moves = [(f"{PACKAGE}/{m}.py", f"{PACKAGE}/{args.ground}/{m}.py") for m in layout.ground_modules]
    moves += [(name, f"{PACKAGE}/{name}") for name in (*layout.stages, *layout.data)]
    (root / PACKAGE / args.ground).mkdir()
    for source, target in moves:
        git("mv", source, target)
    init = root / PACKAGE / args.ground / "__init__.py"
    init.write_text(
        '"""The ground every stage stands on: the warehouse, the rules, masking, the run, errors and '
        "progress.\n\nIt imports nothing of jingzhun above it (no stage, no flow, not the command "
        'line).\n"""\n',
        encoding="utf-8",
    )
    git("add", str(init))
    front = root / PACKAGE / "__init__.py"
    if not front.read_text(encoding="utf-8").strip():
        front.write_text(
            '"""jingzhun (精准): the front door (`cli.py`) above the flows (`flows/`), the stages below '
            'them, and the\nground they stand on (`core/`). Imports only ever go down.\n"""\n',
            encoding="utf-8",
        )

    problems: list[str] = []
    changed = []
    for name in git("ls-files").splitlines():
        path = root / name
        text_file = path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES)
        if text_file and name not in SKIPPED and rewrite_file(path, layout, problems):
            changed.append(name)
    edit_known(root / "pyproject.toml", WHEEL_BEFORE, WHEEL_AFTER, problems)
    edit_known(root / PACKAGE / args.ground / "rules.py", SHIPPED_BEFORE, SHIPPED_AFTER, problems)
    edit_known(root / "README.md", README_BEFORE, README_AFTER, problems)
    subprocess.run(
        [Path(sys.executable).with_name("ruff"), "check", "--fix", "--select", "I", "--quiet", "."],
        cwd=root,
        check=False,
    )

    print(f"rewrote {len(changed)} files")
    too_long = subprocess.run(
        [
            Path(sys.executable).with_name("ruff"),
            "check",
            "--select",
            "E501",
            "--output-format",
            "concise",
            "--quiet",
            ".",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    problems += [f"longer than a line now, wrap it: {line}" for line in too_long]
    for line in imports_up(root, args.ground):
        problems.append(f"import up the house: {line}")
    stages = "|".join(layout.stages)
    old_names = rf"(^|[^\w./-])({stages})/($|[^\w])|^\s*(from|import) ({stages})\b"
    leftover = subprocess.run(
        ["git", "grep", "-nE", old_names, "--", "*.md", "*.py", "*.ipynb", "*.yaml", "Makefile"],
        capture_output=True,
        text=True,
        cwd=root,
    ).stdout
    if leftover:
        print(
            "\nMentions of a package folder by its old short name, to read by eye (most are output folders such "
            "as OUT/<date>/dispatch/ and need nothing):"
        )
        print(leftover)
    for problem in problems:
        print(f"TO DO: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
