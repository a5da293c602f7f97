#!/usr/bin/env python3
"""Generates node-engine/src/acl/key_specs.tsv from Redis 7.0's command JSON.

Key specs say which arguments are keys and how a command uses each (read,
write, insert, delete); ACL's %R~/%W~ patterns are checked against them. The
table is data, so it is generated once from Redis's own files and committed:

    git -C REDIS_REPO archive 7.0.15 src/commands | tar -x -C /tmp/rc
    tools/gen-key-specs.py /tmp/rc/src/commands > node-engine/src/acl/key_specs.tsv

Line format: full command name (lowercase, `container|sub`), a tab, then the
specs separated by `;`, each `FLAGS/BEGIN/FIND` where FLAGS is a comma list,
BEGIN is `i:POS` | `k:KEYWORD:STARTFROM` | `u`, FIND is
`r:LASTKEY:STEP:LIMIT` | `n:KEYNUMIDX:FIRSTKEY:STEP` | `u`.
"""
import json, os, sys

def spec_text(s):
    flags = ",".join(s.get("flags", []))
    b = s.get("begin_search", {})
    if "index" in b:
        begin = "i:%d" % b["index"]["pos"]
    elif "keyword" in b:
        begin = "k:%s:%d" % (b["keyword"]["keyword"], b["keyword"]["startfrom"])
    else:
        begin = "u"
    f = s.get("find_keys", {})
    if "range" in f:
        r = f["range"]
        find = "r:%d:%d:%d" % (r["lastkey"], r["step"], r["limit"])
    elif "keynum" in f:
        k = f["keynum"]
        find = "n:%d:%d:%d" % (k["keynumidx"], k["firstkey"], k["step"])
    else:
        find = "u"
    return "%s/%s/%s" % (flags, begin, find)

rows = []
d = sys.argv[1]
for fn in sorted(os.listdir(d)):
    if not fn.endswith(".json"):
        continue
    with open(os.path.join(d, fn)) as f:
        doc = json.load(f)
    for name, c in doc.items():
        full = name.lower()
        if "container" in c:
            full = c["container"].lower() + "|" + full
        specs = c.get("key_specs", [])
        if specs:
            rows.append("%s\t%s" % (full, ";".join(spec_text(s) for s in specs)))
print("\n".join(sorted(rows)))
