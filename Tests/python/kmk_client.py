#!/usr/bin/env python3
"""A second, independent kmk-sync client, written from SPEC.md alone with Python's standard
library. The end-to-end tests use it to prove the protocol is enough to interoperate.

Usage: kmk_client.py STATE.json URL TOKEN MUNICIPALITY COMMAND [ARG]
  add-venue NAME   record a new venue (member) locally
  rename ID NAME   change a venue's name locally
  sync             push pending changes in numbered batches, then pull every page
  venues           print {"id": "name", ...} of the venues alive, as JSON

State (replica id, clock, batch number, cursor, registers, pending changes) is kept in
STATE.json between runs.
"""
import gzip
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

SCHEMA = 1


def load(path):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {"replica": str(uuid.uuid4()), "hlc": 0, "batch": 0, "cursor": None,
            "registers": {}, "pending": [], "inflight": None}


def save(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def tick(state):
    """SPEC §3: 48-bit milliseconds, 16-bit counter."""
    now = int(time.time() * 1000)
    last_ms, last_counter = state["hlc"] >> 16, state["hlc"] & 0xFFFF
    state["hlc"] = (now << 16) if now > last_ms else ((last_ms << 16) | (last_counter + 1))
    return state["hlc"]


def key(c):
    return c["entity"] + "\x00" + c["id"] + "\x00" + c["field"]


def wins(a, b):
    """SPEC §7: fields by (clock, origin); lifecycle first by causal length."""
    if a["field"] == "$cl" and a["value"] != b["value"]:
        return a["value"] > b["value"]
    if a["clock"] != b["clock"]:
        return int(a["clock"], 16) > int(b["clock"], 16)
    return a["origin"].encode() > b["origin"].encode()


def merge(state, c):
    old = state["registers"].get(key(c))
    if old is None or wins(c, old):
        state["registers"][key(c)] = c
        return True
    return False


def write(state, municipality, entity, rid, fields):
    clock = "%016x" % tick(state)
    for field, value in fields.items():
        old = state["registers"].get(key({"entity": entity, "id": rid, "field": field}))
        c = {"entity": entity, "id": rid, "field": field, "value": value, "clock": clock,
             "origin": state["replica"], "base": old["clock"] if old else "0000000000000000",
             "municipality": municipality}
        merge(state, c)
        state["pending"].append(c)


def request(method, url, token, body=None):
    data = None
    headers = {"Authorization": "Bearer " + token, "Accept-Encoding": "gzip"}
    if body is not None:
        data = gzip.compress(json.dumps(body).encode())
        headers["Content-Type"] = "application/json"
        headers["Content-Encoding"] = "gzip"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            if resp.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return 200, json.loads(raw)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sync(state, path, url, token):
    # Push: numbered batches; a batch in flight is re-sent with the same number.
    while state["pending"] or state["inflight"]:
        if state["inflight"] is None:
            state["inflight"] = {"batch": state["batch"] + 1, "changes": state["pending"][:100]}
            state["pending"] = state["pending"][100:]
            save(path, state)
        batch = state["inflight"]
        status, reply = request("POST", url + "/v1/push", token,
                                {"replica": state["replica"], "batch": batch["batch"], "schema": SCHEMA,
                                 "changes": batch["changes"]})
        if status == 409 and reply.get("error") == "batch_gap":
            state["batch"] = reply["expected_batch"] - 1
            state["inflight"] = None
            state["pending"] = batch["changes"] + state["pending"]
            continue
        if status != 200:
            sys.exit("push refused: %s %s" % (status, reply))
        state["batch"] = batch["batch"]
        state["inflight"] = None
        save(path, state)
    # Pull: pages until "more" is false; the cursor is stored with the merged page.
    while True:
        query = {"schema": SCHEMA, "limit": 50}
        if state["cursor"]:
            query["cursor"] = state["cursor"]
        status, page = request("GET", url + "/v1/changes?" + urllib.parse.urlencode(query), token)
        if status == 410:
            state["cursor"] = None
            continue
        if status != 200:
            sys.exit("pull refused: %s %s" % (status, page))
        for c in page["changes"]:
            merge(state, c)
        state["cursor"] = page["cursor"]
        save(path, state)
        if not page["more"]:
            break


def venues(state):
    alive, names = set(), {}
    for c in state["registers"].values():
        if c["entity"] != "venue":
            continue
        if c["field"] == "$cl" and c["value"] % 2 == 1:
            alive.add(c["id"])
        if c["field"] == "name":
            names[c["id"]] = c["value"]
    return {i: names.get(i) for i in sorted(alive)}


def main():
    path, url, token, municipality, command = sys.argv[1:6]
    token = token.strip()
    state = load(path)
    if command == "add-venue":
        rid = str(uuid.uuid4())
        write(state, municipality, "venue", rid, {"$cl": 1, "name": sys.argv[6], "membership": "member"})
        print(rid)
    elif command == "rename":
        write(state, municipality, "venue", sys.argv[6], {"name": sys.argv[7]})
    elif command == "sync":
        sync(state, path, url.rstrip("/"), token)
    elif command == "venues":
        print(json.dumps(venues(state), ensure_ascii=False, sort_keys=True))
    else:
        sys.exit("unknown command " + command)
    save(path, state)


if __name__ == "__main__":
    main()
