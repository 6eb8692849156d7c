"""Wall time of `odooplane apply` for 1 and for 20 simulated dedicated tenants, and of a no-op
apply of the 20 (the cost of observing an estate that already matches).

Prints one JSON object on its last line: {"apply_1_s", "apply_20_s", "noop_20_s"}.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from benchmarks.common import cli, emit, estate, postgres, workdir


def main() -> None:
    result: dict[str, float] = {}
    with postgres() as pg_url:
        for count, key in ((1, "apply_1_s"), (20, "apply_20_s")):
            with workdir() as tmp:
                root = Path(tmp)
                path = estate(root, pg_url, count, prefix=f"b{uuid.uuid4().hex[:5]}")
                try:
                    result[key] = round(cli("apply", str(path), "-q", cwd=root), 2)
                    if count == 20:
                        result["noop_20_s"] = round(cli("apply", str(path), "-q", cwd=root), 2)
                finally:
                    cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
                print(f"{count} tenant(s): {result}", flush=True)
    emit(result)


if __name__ == "__main__":
    main()
