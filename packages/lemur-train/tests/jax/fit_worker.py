"""Run one pre-training fit from a JSON config and print its losses as JSON (for multi-device tests).

Usage: ``python fit_worker.py '<TrainConfig as JSON>'``; XLA_FLAGS and the process's role come
from the environment and the config, so the parent decides devices before JAX starts.
"""

from __future__ import annotations

import json
import sys

from lemur.train.jax.train import TrainConfig, fit


def main() -> None:
    config = TrainConfig.model_validate(json.loads(sys.argv[1]))
    result = fit(config, progress=False)
    import jax

    print(
        "RESULT "
        + json.dumps({"losses": result.losses, "devices": jax.device_count(), "processes": jax.process_count()})
    )


if __name__ == "__main__":
    main()
