"""Run the ``lemur`` CLI with the test plugin registered: ``python _lemur_eval_cli.py eval run ...``."""

from __future__ import annotations

import sys

import _lemur_eval_test_plugin

from lemur.core.cli import main
from lemur.core.plugins import build_plugin_manager, set_plugin_manager

if __name__ == "__main__":
    manager = build_plugin_manager()
    manager.register_plugin(_lemur_eval_test_plugin, "lemur-eval-test")
    set_plugin_manager(manager)
    sys.exit(main(sys.argv[1:]))
