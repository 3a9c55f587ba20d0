"""Run one SFT fit from a JSON config file and write its losses (the target of ``accelerate launch`` in tests).

Usage: ``python sft_worker.py CONFIG.json OUT.json``; only the main process writes ``OUT.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lemur.train.sft.config import SFTConfig
from lemur.train.sft.trainer import fit


def main() -> None:
    """Fit the config in ``argv[1]`` and write ``{"losses", "step", "processes"}`` to ``argv[2]``."""
    from accelerate import PartialState

    config = SFTConfig.model_validate_json(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = fit(config, progress=False)
    state = PartialState()
    if state.is_main_process:
        out = {"losses": result.losses, "step": result.step, "processes": state.num_processes}
        Path(sys.argv[2]).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
