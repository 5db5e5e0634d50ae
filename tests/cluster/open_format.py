#!/usr/bin/env python3
"""A gridassess tenant's committed tables, read by another engine: delta-rs's Python binding
(`deltalake` on PyPI).

A tenant's `current.json` names the Delta version of each table that its last commit made; that
version is what gridassess reads, and what this script reads. With --stray TABLE it first
appends a version the tenant never committed (as a load killed between writing a table and
committing would leave), so the caller can check that neither reader sees it.

usage: open_format.py TENANT_DIR KEYS_JSON [--stray TABLE]
  KEYS_JSON  {"table": ["key column", ...], ...}
prints     {"table": {"version": V, "rows": N, "keys": ["k1|k2", ...], "newest_rows": M}, ...}
"""

import json
import sys
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake


def key_strings(table: pa.Table, columns: list[str]) -> list[str]:
    values = [table.column(c).to_pylist() for c in columns]
    return sorted("|".join(str(v) for v in row) for row in zip(*values))


def main() -> None:
    tenant, keys = Path(sys.argv[1]), json.loads(sys.argv[2])
    stray = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--stray" else None
    committed = json.loads((tenant / "current.json").read_text())["tables"]

    if stray is not None:
        path = tenant / "tables" / stray
        newest = DeltaTable(str(path)).to_pyarrow_table()
        write_deltalake(str(path), newest.slice(0, 1), mode="append")

    out = {}
    for name, columns in keys.items():
        path = str(tenant / "tables" / name)
        table = DeltaTable(path, version=committed[name]).to_pyarrow_table()
        out[name] = {
            "version": committed[name],
            "rows": table.num_rows,
            "keys": key_strings(table, columns),
            "newest_rows": DeltaTable(path).to_pyarrow_table().num_rows,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
