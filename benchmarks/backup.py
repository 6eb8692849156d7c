"""Backup cost on a generated tenant with a ≥ 1 GB filestore, against the naive encrypted archive
people script (``pg_dump -Fc`` + ``tar | zstd | openssl enc -aes-256-ctr``) measured in the same
run: the tenant's first full backup (into the estate's repository, created beforehand by backing
up the tenant's empty staging: creating a repository is once per estate, about 2.6 s of restic's
key derivation here), an unchanged re-backup, and the repository growth of backing up a fresh
staging copy of the tenant. restic alone on the same filestore (``restic_floor_s``) says how much
of the backup is restic's own work.

Prints one JSON object on its last line: {"backup_s", "raw_s", "ratio", "restic_floor_s",
"restic_ratio", "repository_created_s", "rebackup_ratio", "clone_growth_pct"}.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from benchmarks.backup_support import FILESTORE_MB, estate, fill_filestore, repo_size, restic_floor, run, shell
from benchmarks.common import emit, postgres, runtime_root, workdir


def main() -> None:
    result: dict[str, float] = {}
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        tenant = f"k{uuid.uuid4().hex[:6]}"
        path = estate(root, pg_url, tenant=tenant)
        f = ["-f", str(path)]
        try:
            run("apply", str(path), "-q", cwd=root)
            envs = runtime_root(root / "data") / "envs"
            filestore = envs / f"{tenant}__prod" / "data" / "filestore" / f"{tenant}_prod"
            fill_filestore(pg_url, f"{tenant}_prod", filestore, FILESTORE_MB)
            naive = root / "naive"
            naive.mkdir()
            host, port = pg_url.split("@", 1)[1].split("/", 1)[0].split(":")
            raw = shell(f"pg_dump -h {host} -p {port} -U postgres -Fc -f {naive}/db.dump {tenant}_prod && "
                        f"tar -C {filestore.parent} -cf - {filestore.name} | zstd -q -T0 | "
                        f"openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -out {naive}/files.tar.zst.enc",
                        env={"BENCH_PASS": uuid.uuid4().hex})
            result["raw_s"] = round(raw, 2)
            result["restic_floor_s"] = round(restic_floor(root, filestore)[0], 2)
            result["repository_created_s"] = round(run("backup", "run", f"{tenant}/staging", *f, cwd=root)[0], 2)
            result["backup_s"] = round(run("backup", "run", f"{tenant}/prod", *f, cwd=root)[0], 2)
            print(f"first backup {result['backup_s']} s, naive archive {raw:.2f} s", flush=True)
            rebackup = run("backup", "run", f"{tenant}/prod", *f, cwd=root)[0]
            result["rebackup_ratio"] = round(rebackup / result["backup_s"], 3)
            print(f"unchanged re-backup {rebackup:.2f} s", flush=True)
            run("restore", f"{tenant}/staging", "--from", f"{tenant}/prod", "--yes", *f, cwd=root)
            clone_bytes = sum(p.stat().st_size for p in (envs / f"{tenant}__staging").rglob("*")
                              if p.is_file())
            before = repo_size(root)
            run("backup", "run", f"{tenant}/staging", *f, cwd=root)
            growth = repo_size(root) - before
            result["clone_growth_pct"] = round(100 * growth / max(clone_bytes, 1), 2)
            print(f"staging copy {clone_bytes / 1048576:.0f} MiB grew the repository by {growth / 1048576:.1f} MiB",
                  flush=True)
        finally:
            run("down", "--purge", "--yes", *f, cwd=root)
    result["ratio"] = round(result["backup_s"] / result["raw_s"], 2)
    result["restic_ratio"] = round(result["restic_floor_s"] / result["raw_s"], 2)
    emit({k: result[k] for k in ("backup_s", "raw_s", "ratio", "restic_floor_s", "restic_ratio",
                                 "repository_created_s", "rebackup_ratio", "clone_growth_pct")})


if __name__ == "__main__":
    main()
