"""Write a benchmark's download manifest from a data folder's SOURCE.md.

Each SOURCE.md row names a file, its origin as ``owner/repo@commit:path`` and its SHA-256. The
manifest lists, per file, the relative path inside a data directory, the raw-file URL of that
pinned commit and the checksum, which is what :func:`lemur.core.datafiles.fetch` needs.

Usage: python tools/build_manifest.py ../shared/data/bbh [--only-prefix bbh/] OUT.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| `(?P<repo>[^@`]+)@(?P<commit>[0-9a-f]{40}):(?P<path>[^`]+)` \| `(?P<sha>[0-9a-f]{64})`"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a data folder with SOURCE.md, e.g. ../shared/data/bbh")
    parser.add_argument("out", type=Path, help="the manifest JSON to write")
    parser.add_argument("--include", default=r".", help="regex a file's relative path must match")
    args = parser.parse_args()
    files = []
    for line in (args.folder / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if not match or not re.search(args.include, match["file"]):
            continue
        files.append(
            {
                "path": f"{args.folder.name}/{match['file']}",
                "url": f"https://raw.githubusercontent.com/{match['repo']}/{match['commit']}/{match['path']}",
                "sha256": match["sha"],
            }
        )
    if not files:
        raise SystemExit(f"no file rows matched in {args.folder / 'SOURCE.md'}")
    args.out.write_text(json.dumps({"files": files}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
