"""A local directory of source files as a data source.

Languages are named as The Stack's ``data/<language>`` directories (``python``, ``sql``,
``c++``, ``jupyter-notebook``...), so a local tree and a The Stack preset label documents alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lemur.core.errors import LemurError
from lemur.data.records import Document
from lemur.data.sources.base import DataSource

#: File extension (lower case, with the dot) -> language name.
EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".sql": "sql",
    ".java": "java",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".ipynb": "jupyter-notebook",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".c": "c",
    ".h": "c",
    ".php": "php",
    ".cc": "c++",
    ".cpp": "c++",
    ".cxx": "c++",
    ".hpp": "c++",
    ".hh": "c++",
    ".hxx": "c++",
    ".ts": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".rb": "ruby",
    ".cs": "c-sharp",
    ".scala": "scala",
    ".kt": "kotlin",
    ".lua": "lua",
    ".pl": "perl",
    ".r": "r",
    ".md": "markdown",
    ".html": "html",
    ".css": "css",
    ".tex": "tex",
}
_SNIFF_BYTES = 8192


def language_of(path: str | Path) -> str | None:
    """The language of a file by its extension, or ``None`` when the extension is unknown."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def is_binary(head: bytes) -> bool:
    """Whether the first bytes of a file look binary: a NUL byte, or not valid UTF-8."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the sniff window is not binary.
        return error.start < len(head) - 3
    return False


class CodeTreeSource(DataSource):
    """Source files under a directory, in a fixed order: each directory's files by name, then its sub-directories.

    Each document's id is its path relative to ``root`` (POSIX separators), so ids are stable
    across machines; metadata has ``language``, ``path`` and ``size`` (bytes).

    Args:
        root: Directory to walk.
        languages: Keep only these languages (default: every known extension).
        min_bytes: Skip smaller files (empty ``__init__.py``...).
        max_bytes: Skip larger files (generated code, data).
        include_hidden: Also walk dot-directories and dot-files.

    Raises:
        LemurError: ``root`` is not a directory, or ``languages`` names an unknown language.
    """

    name = "code-tree"

    def __init__(
        self,
        root: str | Path,
        languages: list[str] | str | None = None,
        min_bytes: int = 1,
        max_bytes: int = 1_000_000,
        include_hidden: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise LemurError(f"code-tree source: root {str(self.root)!r} is not a directory")
        if isinstance(languages, str):
            languages = [part.strip() for part in languages.split(",") if part.strip()]
        known = sorted(set(EXTENSIONS.values()))
        for language in languages or ():
            if language not in known:
                raise LemurError(f"code-tree source: unknown language {language!r}; known: {', '.join(known)}")
        self.languages = frozenset(languages) if languages else None
        self.min_bytes = int(min_bytes)
        self.max_bytes = int(max_bytes)
        self.include_hidden = include_hidden
        self.skipped: dict[str, int] = {"binary": 0, "too_small": 0, "too_large": 0}

    def files(self) -> Iterator[tuple[Path, str]]:
        """``(path, language)`` of every candidate file, in the source's fixed order."""
        for directory, subdirectories, names in os.walk(self.root):
            if not self.include_hidden:
                subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            subdirectories.sort()
            for file_name in sorted(names):
                if not self.include_hidden and file_name.startswith("."):
                    continue
                language = language_of(file_name)
                if language and (self.languages is None or language in self.languages):
                    yield Path(directory, file_name), language

    def __iter__(self) -> Iterator[Document]:
        for path, language in self.files():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < self.min_bytes:
                self.skipped["too_small"] += 1
                continue
            if size > self.max_bytes:
                self.skipped["too_large"] += 1
                continue
            data = path.read_bytes()
            if is_binary(data[:_SNIFF_BYTES]):
                self.skipped["binary"] += 1
                continue
            relative = path.relative_to(self.root).as_posix()
            metadata = {"language": language, "path": relative, "size": size}
            yield Document(relative, data.decode("utf-8", errors="replace"), metadata)
