#!/usr/bin/env python3
"""Opens a database file exported by the npm package (Node.js or a browser) with the native
server, as `diskdb.redb` in a fresh data directory, and checks that every key of the dataset
(dataset.json, the groups this engine has) is present with its value.

Usage: open_export.py EXPORTED_FILE DISKDB_SERVER [LABEL]
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from common import NativeServer, is_unknown_command, load_dataset, matches, parse_expected, show


def main():
    exported, server_bin = Path(sys.argv[1]), Path(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else exported.name
    failures = []
    with tempfile.TemporaryDirectory(prefix="diskdb-export-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        shutil.copyfile(exported, data / "diskdb.redb")
        with NativeServer(server_bin, data) as server:
            groups = [g for g in load_dataset() if not is_unknown_command(server.inline(g["requires"]))]
            keys = [k for g in groups for k in g["keys"]]
            checks = [(argv, want) for g in groups for argv, want in g["checks"]]
            checks += [(["KEYS", "*"], "~" + json.dumps(keys)), (["DBSIZE"], str(len(keys)))]
            for argv, want in checks:
                got = server.run(argv)
                if not matches(got, parse_expected(want)):
                    failures.append(f"{argv}: got {show(got)}, want {want}")
    if failures:
        print("\n".join(f"FAIL {label}: {f}" for f in failures))
        sys.exit(1)
    print(f"native diskdb-server opened {label}: all {len(keys)} keys present "
          f"({', '.join(g['type'] for g in groups)})")


if __name__ == "__main__":
    main()
