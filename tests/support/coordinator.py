"""A control-plane process for coordination tests, run as ``python -m tests.support.coordinator MODE
URL …``: it holds a lease, runs an operation, claims a fire time or opens a store, tells the test what
it did on stdout (one JSON object per line) and waits for a line on stdin before finishing — or for
its SIGKILL. ``--host``/``--boot`` make it pretend to run on another host."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from odooplane.settings import Settings
from odooplane.store import db
from odooplane.store.liveness import Identity, this_process


def say(**data: Any) -> None:
    print(json.dumps({"t": time.time(), **data}), flush=True)


def wait_for_the_test() -> None:
    sys.stdin.readline()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["lease", "operation", "claim", "open"])
    parser.add_argument("url")
    parser.add_argument("--name", default="env-acme__prod")
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--host")
    parser.add_argument("--boot")
    parser.add_argument("--fire", default="2031-03-02T02:00:00+00:00")
    parser.add_argument("--fail", action="store_true", help="claim: the job fails (the claim is withdrawn)")
    args = parser.parse_args()
    me = this_process()
    identity = Identity(args.host or me.host, args.boot if args.boot is not None else me.boot_id, me.pid)
    settings = Settings.from_env()
    if args.mode == "open":
        wait_for_the_test()  # every process opens at once
        store = db.open_store(args.url)
        say(migrated_from=store.migrated_from)
        store.close()
        return
    store = db.open_store(args.url)
    if args.mode == "lease":
        from odooplane.errors import LockedError
        from odooplane.store import leases

        say(waiting=True)
        try:
            with leases.hold(store, args.name, wait=args.wait, what="acme/prod", operation_id=7,
                             holder="backup acme/prod (operation #7)", identity=identity, settings=settings):
                say(held=True, pid=os.getpid())
                wait_for_the_test()
                say(releasing=True)
            say(released=True)
        except LockedError as exc:
            say(locked=exc.message)
    elif args.mode == "operation":
        from odooplane.operations.runner import Operation

        with Operation(store, kind="apply", target="acme/prod", actor="tester", identity=identity,
                       settings=settings) as op:
            say(operation=op.op_id, pid=os.getpid())
            wait_for_the_test()
    else:
        from odooplane.store import claims

        with claims.Claims(store, by="worker", identity=identity, settings=settings) as claimed:
            wait_for_the_test()  # both workers claim at once
            won = claimed.take("backup acme/prod", dt.datetime.fromisoformat(args.fire))
            say(won=won)
            wait_for_the_test()
            if won and not args.fail:
                claimed.done("backup acme/prod", dt.datetime.fromisoformat(args.fire))
    store.close()


if __name__ == "__main__":
    main()
