#!/usr/bin/env python3
"""A measurement, not kmk-sync code (BENCHMARKS.md, "Next: where a record's registers live").

Compares, at the SQL level and in one run, three places for a record's clock row against the
plain `venue` table the bench uses as baseline (P1 and P5):

- `layout4`: today's layout (SPEC §2): `kmk_venue_clock` WITHOUT ROWID keyed by the 36-character
  id, with its `seq` index; the record id is stored four times (table, its key, clock row, index).
- `intkey`: the domain table gets an integer key (`key INTEGER PRIMARY KEY`, the id UNIQUE), and
  the clock row is keyed by it; the id is stored twice, as in the plain file.
- `inrow`: the registers are columns of the record's own row (a storage table, which `venue`
  would become a view of); one row and the `seq` index per record.

Each variant writes what kmk-sync's direct capture writes (SPEC §4): on insert the row and a clock
row with every given register at the transaction's clock (stored as 0 relative to `t`), on update
the changed registers' clocks and the record's new sequence number. Statements are set-based
(INSERT ... SELECT, UPDATE ... FROM) on both sides, so the times are floors without per-row
statement overhead, and the bytes are exact.

    python3 Tests/python/layout5_prototype.py REPLICA [P1 rows, default 100000] [P5 rows, default 20000]

REPLICA is a file made by `kmk-sync init FILE --municipality 0484`: its `venue` table (with its
CHECK constraints) and `kmk_venue_clock` are copied, as the bench copies them.
"""
import os, random, sqlite3, sys, tempfile, time, uuid

TEMPLATE = sys.argv[1]
P1_ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
P5_ROWS = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
# The bench's eight fields (VenueRows.fields) and their register numbers (SPEC §2: registers 1...
# are the synced fields in order); the update of P1 changes address and staff_count.
FIELDS = {"name": 1, "address": 2, "licence_ref": 4, "membership": 5, "joined_on": 6, "has_drug_policy": 8,
          "staff_count": 11, "door_staff_count": 12}
UPDATED = ["address", "staff_count"]
REGISTERS = range(0, 15)
T0 = 1_764_000_000_000 << 16          # an HLC: milliseconds << 16
T1 = T0 + (1_000 << 16)               # one second later


def template_sql(name):
    src = sqlite3.connect(TEMPLATE)
    sql = src.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    src.close()
    return sql


def register_columns():
    return ",\n    ".join(f"h{n} INTEGER, s{n} INTEGER NOT NULL DEFAULT 0, b{n} INTEGER, q{n} INTEGER" for n in REGISTERS)


def venue_with_key():
    sql = template_sql("venue")
    sql = sql.replace("id TEXT PRIMARY KEY NOT NULL", "key INTEGER PRIMARY KEY,\n    id TEXT NOT NULL UNIQUE", 1)
    assert "key INTEGER PRIMARY KEY" in sql
    return sql


def ddl(variant):
    venue = template_sql("venue")
    if variant == "plain":
        return venue + ";"
    if variant == "layout4":
        return venue + ";\n" + template_sql("kmk_venue_clock") + ";\nCREATE INDEX kmk_venue_clock_seq ON kmk_venue_clock (seq);"
    if variant == "intkey":
        return (venue_with_key() + ";\nCREATE TABLE kmk_venue_clock (\n    k INTEGER PRIMARY KEY, cl INTEGER NOT NULL DEFAULT 0, "
                "seq INTEGER, t INTEGER,\n    " + register_columns() + "\n) STRICT;\n"
                "CREATE INDEX kmk_venue_clock_seq ON kmk_venue_clock (seq);")
    if variant == "inrow":
        body = venue.rstrip()
        assert body.endswith(") STRICT")
        body = body[: -len(") STRICT")].rstrip() + ",\n    cl INTEGER NOT NULL DEFAULT 0, seq INTEGER, t INTEGER,\n    " \
            + register_columns() + "\n) STRICT"
        return body + ";\nCREATE INDEX venue_seq ON venue (seq);"
    raise ValueError(variant)


def rows(n, seed, round_):
    rng = random.Random(seed)
    streets = ["Storgatan", "Kungsgatan", "Drottninggatan", "Hamngatan", "Fristadstorget", "Nygatan"]
    out = []
    for i in range(n):
        year, month, day = 2010 + (i + round_) % 15, 1 + (i + round_) % 12, 1 + (i * 7 + round_) % 28
        out.append((f"Krogen {i} v{round_} {rng.randrange(1000)}",
                    f"{streets[(i + round_) % 6]} {1 + (i + round_) % 97}, {10000 + rng.randrange(89999)} Ort",
                    f"ST-{year}-{i}-{round_}", ["applicant", "member", "left"][(i + round_) % 3],
                    f"{year:04d}-{month:02d}-{day:02d}", (i + round_) % 2, 1 + (i * 3 + round_) % 40, (i + round_) % 6))
    return out


def source(db, n, seed):
    """Temporary tables `src` (n, id, the eight fields) and `upd` (n, id, new values of every field)."""
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    names = list(FIELDS)
    for table, round_ in (("src", 0), ("upd", 1)):
        db.execute(f"CREATE TEMP TABLE {table} (n INTEGER PRIMARY KEY, id TEXT, {', '.join(names)})")
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * (len(names) + 2))})",
                       [(i + 1, ids[i]) + r for i, r in enumerate(rows(n, seed + round_, round_))])
    db.commit()


def insert(db, variant):
    names = list(FIELDS)
    cols = ", ".join(names)
    given = ", ".join(f"h{FIELDS[f]}" for f in names)
    zeros = ", ".join("0" for _ in names)
    if variant in ("plain", "layout4", "intkey"):
        db.execute(f"INSERT INTO venue (id, {cols}) SELECT id, {cols} FROM src ORDER BY n")
    if variant == "layout4":
        db.execute(f"INSERT INTO kmk_venue_clock (id, cl, seq, t, h0, {given}) "
                   f"SELECT id, 1, n, {T0}, 0, {zeros} FROM src ORDER BY n")
    elif variant == "intkey":
        db.execute(f"INSERT INTO kmk_venue_clock (k, cl, seq, t, h0, {given}) "
                   f"SELECT key, 1, key, {T0}, 0, {zeros} FROM venue ORDER BY key")
    elif variant == "inrow":
        db.execute(f"INSERT INTO venue (id, {cols}, cl, seq, t, h0, {given}) "
                   f"SELECT id, {cols}, 1, n, {T0}, 0, {zeros} FROM src ORDER BY n")


def update(db, variant, names, first_seq):
    """The given fields of every row take their `upd` value; the clock rows what the update
    trigger writes for a register written at the row's first clock (base 0, no own number)."""
    sets = ", ".join(f"{f} = upd.{f}" for f in names)
    regs = ", ".join(f"h{FIELDS[f]} = {T1} - t, b{FIELDS[f]} = h{FIELDS[f]}" for f in names)
    if variant == "plain":
        db.execute(f"UPDATE venue SET {sets} FROM upd WHERE venue.id = upd.id")
    elif variant == "layout4":
        db.execute(f"UPDATE venue SET {sets} FROM upd WHERE venue.id = upd.id")
        db.execute(f"UPDATE kmk_venue_clock SET seq = {first_seq} + upd.n, {regs} FROM upd "
                   f"WHERE kmk_venue_clock.id = upd.id")
    elif variant == "intkey":
        db.execute(f"UPDATE venue SET {sets} FROM upd WHERE venue.id = upd.id")
        db.execute(f"UPDATE kmk_venue_clock SET seq = {first_seq} + upd.n, {regs} FROM upd, venue "
                   f"WHERE venue.id = upd.id AND kmk_venue_clock.k = venue.key")
    elif variant == "inrow":
        db.execute(f"UPDATE venue SET {sets}, seq = {first_seq} + upd.n, {regs} FROM upd WHERE venue.id = upd.id")


def open_db(directory, variant, name):
    path = os.path.join(directory, f"{name}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(ddl(variant))
    return db, path


def timed(db, work):
    start = time.perf_counter()
    db.execute("BEGIN")
    work()
    db.execute("COMMIT")
    return time.perf_counter() - start


VARIANTS = ["plain", "layout4", "intkey", "inrow"]


def p1(directory):
    best = {}
    for attempt in range(3):
        for v in VARIANTS:
            db, _ = open_db(directory, v, f"{v}-p1-{attempt}")
            source(db, P1_ROWS, 7)
            ins = timed(db, lambda: insert(db, v))
            upd = timed(db, lambda: update(db, v, UPDATED, P1_ROWS))
            b = best.setdefault(v, [ins, upd])
            best[v] = [min(b[0], ins), min(b[1], upd)]
            db.close()
    print(f"P1 at the SQL level, {P1_ROWS:,} rows, best of 3 (set-based statements; a floor):")
    for v in VARIANTS:
        ins, upd = best[v]
        print(f"  {v:8s} insert {ins:6.3f} s ({ins / best['plain'][0]:4.2f}x)   update 2 fields {upd:6.3f} s "
              f"({upd / best['plain'][1]:4.2f}x)")


def p5(directory):
    print(f"P5 file bytes, {P5_ROWS:,} rows after 1 update of every field (checkpointed):")
    sizes = {}
    for v in VARIANTS:
        db, path = open_db(directory, v, f"{v}-p5")
        source(db, P5_ROWS, 5)
        timed(db, lambda: insert(db, v))
        timed(db, lambda: update(db, v, list(FIELDS), P5_ROWS))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        per = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        db.close()
        sizes[v] = os.path.getsize(path)
        parts = ", ".join(f"{name} {size:,}" for name, size in per if not name.startswith("sqlite_schema"))
        print(f"  {v:8s} {sizes[v]:>10,} B ({sizes[v] / sizes['plain']:4.2f}x)   {parts}")


with tempfile.TemporaryDirectory() as d:
    p5(d)
    p1(d)
