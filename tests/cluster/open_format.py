#!/usr/bin/env python3
"""A gridassess tenant's committed tables, read by another engine: delta-rs's Python binding
(`deltalake` on PyPI).

A tenant's `current.json` names the Delta version of each table that its last commit made; that
version is what gridassess reads, and what this script reads. With --stray TABLE it first
appends a version the tenant never committed (as a load killed between writing a table and
committing would leave), so the caller can check that neither reader sees it.

With --tables URL the tables are read from an S3-compatible store (a warehouse made with
`gridassess init --tables`), with the same AWS_* environment gridassess reads.

usage: open_format.py TENANT_DIR KEYS_JSON [--stray TABLE] [--tables URL]
  KEYS_JSON  {"table": ["key column", ...], ...}
  URL        the tenant's tables, e.g. s3://bucket/prefix/tenants/ID/tables
prints     {"table": {"version": V, "rows": N, "keys": ["k1|k2", ...], "newest_rows": M}, ...}
"""

import argparse
import json
import os
import sys
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake


def key_strings(table: pa.Table, columns: list[str]) -> list[str]:
    values = [table.column(c).to_pylist() for c in columns]
    return sorted("|".join(str(v) for v in row) for row in zip(*values))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tenant", type=Path)
    ap.add_argument("keys", type=json.loads)
    ap.add_argument("--stray")
    ap.add_argument("--tables")
    args = ap.parse_args()
    committed = json.loads((args.tenant / "current.json").read_text())["tables"]
    base = args.tables.rstrip("/") if args.tables else str(args.tenant / "tables")
    # delta-rs takes the store's settings as options; these are the variables gridassess reads.
    options = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} if args.tables else None

    def table(name, version=None):
        return DeltaTable(f"{base}/{name}", version=version, storage_options=options)

    if args.stray is not None:
        newest = table(args.stray).to_pyarrow_table()
        write_deltalake(f"{base}/{args.stray}", newest.slice(0, 1), mode="append",
                        storage_options=options)

    out = {}
    for name, columns in args.keys.items():
        rows = table(name, committed[name]).to_pyarrow_table()
        out[name] = {
            "version": committed[name],
            "rows": rows.num_rows,
            "keys": key_strings(rows, columns),
            "newest_rows": table(name).to_pyarrow_table().num_rows,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
