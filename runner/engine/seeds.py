"""The seed contract: the global generators (random, NumPy, torch) are seeded before the first
cell, with 0 in the run the page shows and with another seed in the second run of a double
run, so a cell that draws from a global generator it never seeded gives different outputs in
the two runs and is reported, as it would change on every reader's machine.

A cell with ``seed=fixed`` re-seeds all three with 0 right before it runs, in both runs: the
author accepts the fixed seed explicitly (on the first cell, for the whole answer).
"""

from __future__ import annotations

import os
import random

GENERATORS = ("random", "numpy", "torch")
FIXED_SEED = 0


def run_seed() -> int:
    """0 in the fork server the page's run uses (PYTHONHASHSEED 0), another seed elsewhere.

    Read when the fork server imports this module, before a child clears its environment."""
    hash_seed = os.environ.get("PYTHONHASHSEED", "0")
    return FIXED_SEED if hash_seed in ("", "0") else 104_729 * int(hash_seed)


RUN_SEED = run_seed()


def seed_everything(seed: int = FIXED_SEED) -> None:
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


def states() -> dict:
    """The three generators' states (reading them draws nothing)."""
    import numpy
    import torch

    state = numpy.random.get_state()
    return {
        "random": random.getstate(),
        "numpy": (state[1].tobytes(), state[2]),
        "torch": bytes(torch.random.get_rng_state().numpy()),
    }


class RandomWatch:
    """Which global generators a cell drew from while they held the runner's seed."""

    def __init__(self):
        self.author_seeded: set[str] = set()
        self.drawn: set[str] = set()
        self._install_seed_hooks()

    def seed(self, seed: int) -> None:
        """Seed all three generators (the runner's own seeding, not the author's)."""
        seed_everything(seed)
        self.author_seeded.clear()
        self._start = states()

    def unseeded_draws(self) -> list[str]:
        """The generators drawn from since the runner seeded them, that the author never seeded."""
        watched = [name for name in GENERATORS if name not in self.author_seeded and name not in self.drawn]
        if watched:
            now = states()
            self.drawn.update(name for name in watched if now[name] != self._start[name])
        return sorted(self.drawn)

    def _install_seed_hooks(self) -> None:
        import numpy
        import torch

        def hooked(name, original):
            def seed(*args, **kwargs):
                self.author_seeded.add(name)
                return original(*args, **kwargs)

            seed.__wrapped__ = original
            seed.__doc__ = original.__doc__
            return seed

        random.seed = hooked("random", random.seed)
        numpy.random.seed = hooked("numpy", numpy.random.seed)
        torch.manual_seed = hooked("torch", torch.manual_seed)
        torch.random.manual_seed = torch.manual_seed
