"""Restore cost on a generated tenant with a ≥ 1 GB filestore, against the naive path measured in
the same run (``createdb`` + ``pg_restore -j2`` of a custom dump + decrypt, decompress and extract
of the ``tar | zstd | openssl`` archive, verifying nothing):

- ``restore_s``: ``odooplane restore`` of the tenant's production over its staging, which is a
  restore with full verification: every artifact's SHA-256 against the manifest (the filestore's
  while PostgreSQL loads the dump), row counts and installed modules against the manifest, every
  attachment's sha1, then Odoo restarted on it and answering through the edge;
- ``verify_s``: ``odooplane verify`` (the same proof in a sandbox, touching no environment),
  reported beside it;
- ``restic_restore_s``: restic alone restoring the same filestore, what any restore through restic
  costs here.

Prints one JSON object on its last line: {"restore_s", "verify_s", "raw_s", "ratio",
"restic_restore_s", "restic_ratio"}.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from benchmarks.backup_support import FILESTORE_MB, estate, fill_filestore, restic_floor, run, shell
from benchmarks.common import emit, postgres, runtime_root, workdir


def main() -> None:
    result: dict[str, float] = {}
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        tenant = f"r{uuid.uuid4().hex[:6]}"
        path = estate(root, pg_url, tenant=tenant)
        f = ["-f", str(path)]
        host, port = pg_url.split("@", 1)[1].split("/", 1)[0].split(":")
        pg = f"-h {host} -p {port} -U postgres"
        naive_db = f"naive_{uuid.uuid4().hex[:6]}"
        try:
            run("apply", str(path), "-q", cwd=root)
            envs = runtime_root(root / "data") / "envs"
            filestore = envs / f"{tenant}__prod" / "data" / "filestore" / f"{tenant}_prod"
            fill_filestore(pg_url, f"{tenant}_prod", filestore, FILESTORE_MB)
            naive = root / "naive"
            (naive / "out").mkdir(parents=True)
            secret = {"BENCH_PASS": uuid.uuid4().hex}
            shell(f"pg_dump {pg} -Fc -f {naive}/db.dump {tenant}_prod && tar -C {filestore.parent} -cf - "
                  f"{filestore.name} | zstd -q -T0 | openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS "
                  f"-out {naive}/files.enc", env=secret)
            run("backup", "run", f"{tenant}/prod", *f, cwd=root)
            raw = shell(f"createdb {pg} {naive_db} && pg_restore {pg} -j2 -d {naive_db} {naive}/db.dump && "
                        f"openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PASS -in {naive}/files.enc | "
                        f"zstd -d -q | tar -C {naive}/out -xf -", env=secret)
            restore_s = run("restore", f"{tenant}/staging", "--from", f"{tenant}/prod", "--yes", *f, cwd=root)[0]
            verify_s = run("verify", f"{tenant}/prod", *f, cwd=root)[0]
            floor = restic_floor(root, filestore)[1]
            result = {"restore_s": round(restore_s, 2), "verify_s": round(verify_s, 2), "raw_s": round(raw, 2),
                      "restic_restore_s": round(floor, 2)}
            print(f"restore {restore_s:.2f} s, verification {verify_s:.2f} s; naive {raw:.2f} s; "
                  f"restic alone {floor:.2f} s", flush=True)
        finally:
            shell(f"dropdb {pg} --if-exists {naive_db}")
            run("down", "--purge", "--yes", *f, cwd=root)
    emit({**result, "ratio": round(result["restore_s"] / result["raw_s"], 2),
          "restic_ratio": round(result["restic_restore_s"] / result["raw_s"], 2)})


if __name__ == "__main__":
    main()
