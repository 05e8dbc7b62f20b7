"""The generated users files every benchmark (and scripts/bench_ui.py, load_test.py) uploads."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

_FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "José", "Zoë"]
_LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra"]


def generate(path: Path, rows: int, error_rate: float, seed: int = 7, run: str | None = None) -> None:
    """`run` goes into every email (a fresh one by default, so files of two runs share no address)."""
    rng = random.Random(seed)
    # Formats admins really type: national with trunk prefix, international, spaced.
    prefixes = [
        ("+44", lambda: f"07{rng.choice('45789')}{rng.randint(0, 99999999):08d}"),
        (
            "+1",
            lambda: (
                f"+1 ({rng.choice(['212', '415', '312', '617'])}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            ),
        ),
        ("+49", lambda: f"0151 {rng.randint(10000000, 99999999)}"),
        ("+61", lambda: f"04{rng.choice('0123')}{rng.randint(0, 9999999):07d}"),
    ]
    run = run or uuid.uuid4().hex[:8]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("firstname,lastname,email,countryprefix,phone\n")
        for i in range(rows):
            prefix, phone = rng.choice(prefixes)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}.{i}.{run}@example{i % 20}.com"
            values = [first, last, email, prefix, phone() if i % 3 else ""]
            if rng.random() < error_rate:
                kind = rng.randrange(5)
                if kind == 0:
                    values[2] = f"not-an-email-{i}"
                elif kind == 1:
                    values[3] = "+999"
                elif kind == 2:
                    values[4] = "12345"
                elif kind == 3:
                    values[0] = ""
                else:
                    values[2] = f"{_FIRST[0].lower()}.{_LAST[0].lower()}.0.{run}@example0.com"  # duplicate
            out.write(",".join(f'"{v}"' if "," in v else v for v in values) + "\n")
