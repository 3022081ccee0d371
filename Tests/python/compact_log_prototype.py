#!/usr/bin/env python3
"""A measurement, not kmk-sync code (BENCHMARKS.md, "Next: a compact change log").

Prototype of a compact change log for the `venue` entity: one clock row per record
(`kmk_venue_clock`) with a clock, site and sequence number per synced field as columns, kept by
plain-SQL triggers (so edits from any program are still captured) and stamped once per
transaction. Measures P1 (insert N rows, then update 2 fields of each) and P5 (file size after
one update per field) against a plain table with the same rows, in the same run.

    python3 Tests/python/compact_log_prototype.py [P1 rows, default 20000] [P5 rows, default 2000]

With a replica file made by `kmk-sync init FILE --municipality 0484` as a third argument, the
venue table is that file's own (with its CHECK constraints, as the bench's baseline), and it also
times the same inserts through that file's real capture triggers and stamping SQL (the layout of
SPEC §2/§4, with no kmk-sync code running), against the same table without triggers.

It leaves out what a real layout must still do (deletes, restores, remote apply, the ledger's
`base`, values of deleted records), so its figures are a lower bound on the cost.
"""
import sqlite3, time, os, uuid, random, sys, tempfile
F = ["name","address","org_number","licence_ref","membership","joined_on","left_on","has_drug_policy","has_action_plan",
     "shows_signage","staff_count","door_staff_count","key_staff_count","self_inspection_on","contact_person","contact_phone",
     "contact_email","notes"]
SYNCED = F[:14]  # as in the replica's trigger (contact_* and notes are local-only)
TEMPLATE = sys.argv[3] if len(sys.argv) > 3 else None
def venue_ddl():
    if TEMPLATE:  # the replica's own venue table, CHECK constraints included, for a like-for-like plain side
        src = sqlite3.connect(TEMPLATE)
        sql = src.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'venue'").fetchone()[0]
        src.close()
        return sql + ";"
    return "CREATE TABLE venue (id TEXT PRIMARY KEY NOT NULL, " + ", ".join(f+(" INTEGER" if f.startswith(("has","shows")) or f.endswith("count") else " TEXT") for f in F) + ") STRICT;"
def compact_ddl():
    cols = ["id TEXT PRIMARY KEY NOT NULL", "cl INTEGER NOT NULL", "cl_hlc INTEGER", "cl_site INTEGER", "seq INTEGER"]
    for i,f in enumerate(SYNCED, 1):
        cols += [f"h{i} INTEGER", f"s{i} INTEGER", f"q{i} INTEGER"]   # clock, site, seq (NULL h: pending)
    sql = "CREATE TABLE kmk_venue_clock (" + ", ".join(cols) + ") STRICT, WITHOUT ROWID;\n"
    sql += "CREATE INDEX kmk_venue_clock_seq ON kmk_venue_clock (seq);\n"
    # insert: a new record; each non-null field pending (h NULL, q -1), null fields without register (q NULL)
    ins_cols = ["id","cl","cl_hlc","cl_site","seq"] + [c for i in range(1,len(SYNCED)+1) for c in (f"h{i}", f"q{i}")]
    ins_vals = ["NEW.id","1","NULL","0","NULL"] + [v for f in SYNCED for v in ("NULL", f"CASE WHEN NEW.{f} IS NULL THEN NULL ELSE -1 END")]
    sql += f"""CREATE TRIGGER kmk_venue_insert AFTER INSERT ON venue BEGIN
      INSERT INTO kmk_venue_clock ({', '.join(ins_cols)}) VALUES ({', '.join(ins_vals)})
      ON CONFLICT (id) DO UPDATE SET cl = cl + 1 - (cl % 2), cl_hlc = NULL, seq = NULL,
      {', '.join(f"h{i} = CASE WHEN excluded.q{i} IS NOT NULL THEN NULL ELSE h{i} END, q{i} = coalesce(excluded.q{i}, q{i})" for i in range(1,len(SYNCED)+1))};
    END;\n"""
    sets = ", ".join(f"h{i} = CASE WHEN NEW.{f} IS NOT OLD.{f} THEN NULL ELSE h{i} END, q{i} = CASE WHEN NEW.{f} IS NOT OLD.{f} THEN -1 ELSE q{i} END" for i,f in enumerate(SYNCED,1))
    sql += f"""CREATE TRIGGER kmk_venue_update AFTER UPDATE ON venue BEGIN
      UPDATE kmk_venue_clock SET seq = NULL, {sets} WHERE id = NEW.id;
    END;\n"""
    return sql
def stamp_sql():
    # one clock for the transaction (?1), record seqs from ?2 on; each pending field gets the record's seq
    sets = ", ".join(f"h{i} = CASE WHEN q{i} = -1 THEN ?1 ELSE h{i} END, s{i} = CASE WHEN q{i} = -1 THEN 0 ELSE s{i} END, q{i} = CASE WHEN q{i} = -1 THEN ?2 + p.n ELSE q{i} END" for i in range(1,len(SYNCED)+1))
    return f"""WITH p AS (SELECT id, row_number() OVER () AS n FROM kmk_venue_clock WHERE seq IS NULL)
      UPDATE kmk_venue_clock SET seq = ?2 + p.n, cl_hlc = coalesce(cl_hlc, ?1), {sets} FROM p WHERE kmk_venue_clock.id = p.id"""
def rows(n, seed):
    random.seed(seed)
    out=[]
    for i in range(n):
        out.append((str(uuid.UUID(int=random.getrandbits(128), version=4)), f"Krogen {i} v0 {random.randint(0,999)}", f"Storgatan {i}", None,
                    f"ST-2010-{i}-0", random.choice(["applicant","member","left"]), "2011-02-08", None, random.randint(0,1), None, None,
                    100+i, random.randint(0,3)))
    return out
INS = "INSERT INTO venue (id,name,address,org_number,licence_ref,membership,joined_on,left_on,has_drug_policy,has_action_plan,shows_signage,staff_count,door_staff_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
def open_db(path, compact):
    for s in ("", "-wal", "-shm"):
        if os.path.exists(path+s): os.remove(path+s)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA cache_size=-65536")
    db.executescript(venue_ddl() + (compact_ddl() if compact else ""))
    return db
def p1(n):
    data = rows(n, 1)
    best = {}
    for rep in range(3):
        for compact in (False, True):
            db = open_db(os.path.join(tempfile.gettempdir(), "kmk-compact-p1-%d.db" % compact), compact)
            t = time.perf_counter(); db.execute("BEGIN")
            for r in data: db.execute(INS, r)
            if compact: db.execute(stamp_sql(), (1000, 0))
            db.execute("COMMIT"); ti = time.perf_counter() - t
            t = time.perf_counter(); db.execute("BEGIN")
            for i, r in enumerate(data): db.execute("UPDATE venue SET address = ?, staff_count = ? WHERE id = ?", (f"Ny gata {i}", 500+i, r[0]))
            if compact: db.execute(stamp_sql(), (2000, n))
            db.execute("COMMIT"); tu = time.perf_counter() - t
            if compact:
                pend = db.execute("SELECT count(*) FROM kmk_venue_clock WHERE seq IS NULL OR " + " OR ".join(f"q{i} = -1" for i in range(1,15))).fetchone()[0]
                assert pend == 0, pend
            k = "compact" if compact else "plain"
            best[k] = (min(best.get(k, (9e9, 9e9))[0], ti), min(best.get(k, (9e9, 9e9))[1], tu))
            db.close()
    print(f"P1 prototype, {n} rows: insert {best['compact'][0]:.3f} s vs plain {best['plain'][0]:.3f} s = {best['compact'][0]/best['plain'][0]:.2f}x; "
          f"update 2 fields {best['compact'][1]:.3f} s vs {best['plain'][1]:.3f} s = {best['compact'][1]/best['plain'][1]:.2f}x (best of 3)")
def p5(n):
    data = rows(n, 5)
    sizes = {}
    for compact in (False, True):
        path = os.path.join(tempfile.gettempdir(), "kmk-compact-p5-%d.db" % compact)
        db = open_db(path, compact)
        db.execute("BEGIN")
        for r in data: db.execute(INS, r)
        if compact: db.execute(stamp_sql(), (1000, 0))
        db.execute("COMMIT")
        # every set field updated once, one transaction per field round (as the bench's P5)
        cols = ["name","address","licence_ref","membership","joined_on","has_drug_policy","staff_count","door_staff_count"]
        db.execute("BEGIN")
        for i, r in enumerate(data):
            db.execute("UPDATE venue SET name=?, address=?, licence_ref=?, membership=?, joined_on=?, has_drug_policy=?, staff_count=?, door_staff_count=? WHERE id=?",
                       (f"Krogen {i} v1", f"Lillgatan {i}", f"ST-2012-{i}-1", "member", "2012-03-09", 1 - (r[8] or 0), 200+i, (r[12] or 0)+1, r[0]))
        if compact: db.execute(stamp_sql(), (2000, n))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)"); db.close()
        sizes[compact] = os.path.getsize(path)
    print(f"P5 prototype, {n} rows after 1 update per field: {sizes[True]:,} B vs plain {sizes[False]:,} B = {sizes[True]/sizes[False]:.2f}x")
def current(template, n):
    """The real layout: inserts through the replica's triggers, then the stamping statement of
    Replica.stampPendingInTransaction, against the same file with the venue triggers dropped."""
    import shutil
    data = rows(n, 1)
    best = {}
    for rep in range(3):
        for triggers in (False, True):
            path = os.path.join(tempfile.gettempdir(), "kmk-current-%d.kmk" % triggers)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix): os.remove(path + suffix)
            shutil.copy(template, path)
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA cache_size=-65536"); db.execute("PRAGMA temp_store=MEMORY")
            if not triggers:
                for name in ("insert", "update", "delete", "id"): db.execute(f"DROP TRIGGER kmk_venue_{name}")
            t = time.perf_counter(); db.execute("BEGIN")
            for r in data: db.execute(INS, r)
            t1 = time.perf_counter()
            if triggers:
                db.execute("""WITH p AS (SELECT tbl, pk, col, row_number() OVER (ORDER BY tbl, pk, col) AS n
                              FROM kmk_clock WHERE seq IS NULL)
                              UPDATE kmk_clock SET hlc = ?1, site = 0, seq = ?2 + p.n
                              FROM p WHERE kmk_clock.tbl = p.tbl AND kmk_clock.pk = p.pk AND kmk_clock.col = p.col""", (1000, 2))
                assert db.execute("SELECT count(*) FROM kmk_clock WHERE seq IS NULL").fetchone()[0] == 0
            t2 = time.perf_counter(); db.execute("COMMIT"); t3 = time.perf_counter()
            k = "triggers" if triggers else "plain"
            if t3 - t < best.get(k, (9e9,))[0]: best[k] = (t3 - t, t1 - t, t2 - t1, t3 - t2)
            db.close()
    tr, pl = best["triggers"], best["plain"]
    print(f"P1 current layout (SQL only), {n} rows: insert {tr[0]:.3f} s (triggers {tr[1]:.3f}, stamping {tr[2]:.3f}, "
          f"commit {tr[3]:.3f}) vs plain {pl[0]:.3f} s = {tr[0]/pl[0]:.2f}x (best of 3)")
n1 = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
p1(n1)
p5(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
if len(sys.argv) > 3: current(sys.argv[3], n1)
