import KMKModel

/// The SQL that makes a replica file, derived from the ``Schema``: domain tables with CHECK
/// constraints, and the triggers that capture every write into `kmk_clock`.
///
/// Capture works the same whoever writes: kmk-sync itself, the `sqlite3` shell or a GUI. A trigger
/// records the new value with no clock yet (`seq` and `hlc` NULL: *pending*); kmk-sync gives
/// pending changes a clock and a sequence number at the end of its own write transactions and
/// whenever it opens the file (``Replica/stampPending()``). See SPEC.md, "Change capture".
enum ReplicaDDL {
    /// The `format` value in `kmk_meta` that marks a file as a replica.
    static let format = "kmk-sync-replica"

    /// An SQL expression that makes a random version-4 UUID, used as the `id` default so that an
    /// INSERT from another program needs no id.
    static let uuidExpression = """
        lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' \
        || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))
        """

    static let metaTables = """
        CREATE TABLE kmk_meta (key TEXT PRIMARY KEY NOT NULL, value ANY) STRICT;
        CREATE TABLE kmk_site (site INTEGER PRIMARY KEY, replica TEXT NOT NULL UNIQUE) STRICT;
        CREATE TABLE kmk_clock (
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            col INTEGER NOT NULL,
            val ANY,
            hlc INTEGER,
            site INTEGER NOT NULL DEFAULT 0,
            base INTEGER NOT NULL DEFAULT 0,
            seq INTEGER,
            PRIMARY KEY (tbl, pk, col)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX kmk_clock_seq ON kmk_clock (seq);
        CREATE TABLE kmk_ledger (
            id TEXT PRIMARY KEY NOT NULL,
            entity TEXT NOT NULL, pk TEXT NOT NULL, field TEXT NOT NULL, delete_won INTEGER NOT NULL,
            win_val ANY, win_hlc INTEGER NOT NULL, win_origin TEXT NOT NULL,
            lose_val ANY, lose_hlc INTEGER NOT NULL, lose_origin TEXT NOT NULL,
            resolved_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX kmk_ledger_time ON kmk_ledger (resolved_at);
        CREATE TABLE kmk_seen (origin TEXT PRIMARY KEY NOT NULL, hlc INTEGER NOT NULL) STRICT;
        CREATE TABLE kmk_peer (
            peer TEXT NOT NULL, origin TEXT NOT NULL, hlc INTEGER NOT NULL, PRIMARY KEY (peer, origin)
        ) STRICT;
        """

    /// All statements that create a new replica's tables and triggers.
    static func create(_ schema: Schema) -> String {
        var sql = metaTables + "\n"
        for e in schema.entities {
            sql += table(e) + "\n"
            sql += triggers(e) + "\n"
        }
        return sql
    }

    static func table(_ e: EntitySpec) -> String {
        var cols = [
            "id TEXT PRIMARY KEY NOT NULL DEFAULT (\(uuidExpression)) CHECK (length(id) = 36 OR (length(id) = 4 AND id GLOB '[0-9][0-9][0-9][0-9]'))"
        ]
        for f in e.fields {
            var c = "\(f.name) \(f.kind.sqlType)"
            if let check = check(f) { c += " CHECK (\(f.name) IS NULL OR (\(check)))" }
            cols.append(c)
        }
        var sql = "CREATE TABLE \(e.name) (\n    " + cols.joined(separator: ",\n    ") + "\n) STRICT;\n"
        for f in e.referenceFields {
            sql += "CREATE INDEX \(e.name)_\(f.name) ON \(e.name) (\(f.name));\n"
        }
        return sql
    }

    /// The CHECK expression for a field's kind, where SQL can express it.
    static func check(_ f: FieldSpec) -> String? {
        let n = f.name
        switch f.kind {
        case .text(let max): return "length(\(n)) <= \(max)"
        case .integer(let min, let max): return "\(n) BETWEEN \(min) AND \(max)"
        case .real: return nil
        case .bool: return "\(n) IN (0, 1)"
        case .date: return "date(\(n), '+0 days') IS \(n)"
        case .choice(let words): return "\(n) IN (" + words.map { "'\($0)'" }.joined(separator: ", ") + ")"
        case .set: return nil
        case .reference: return "length(\(n)) = 36 OR length(\(n)) = 4"
        case .period:
            return "\(n) GLOB '[0-9][0-9][0-9][0-9]' OR \(n) GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]' "
                + "OR \(n) GLOB '[0-9][0-9][0-9][0-9]-Q[1-4]'"
        case .orgNumber: return "\(n) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]'"
        }
    }

    /// The upsert clause that turns a clock row into a pending local write, remembering the
    /// clock it overwrote as `base`.
    static let pendingUpsert = """
        ON CONFLICT (tbl, pk, col) DO UPDATE SET val = excluded.val, \
        base = CASE WHEN kmk_clock.hlc IS NULL THEN kmk_clock.base ELSE kmk_clock.hlc END, \
        hlc = NULL, site = 0, seq = NULL
        """

    /// The synced fields of the new row as rows `(col, val[, old])`, for one INSERT … SELECT.
    static func fieldRows(_ fields: [FieldSpec], old: Bool) -> String {
        fields.enumerated().map { i, f in
            i == 0 ? "SELECT \(f.number) AS col, NEW.\(f.name) AS val" + (old ? ", OLD.\(f.name) AS old" : "")
                : "SELECT \(f.number), NEW.\(f.name)" + (old ? ", OLD.\(f.name)" : "")
        }.joined(separator: " UNION ALL ")
    }

    static func triggers(_ e: EntitySpec) -> String {
        let t = e.number
        let synced = e.syncedFields
        // INSERT: the row is created (or re-created: an even causal length becomes odd), and each
        // field that differs from what the clock table already holds is written.
        var insert = """
            CREATE TRIGGER kmk_\(e.name)_insert AFTER INSERT ON \(e.name) BEGIN
                INSERT INTO kmk_clock (tbl, pk, col, val, hlc, site, base, seq) VALUES (\(t), NEW.id, 0, 1, NULL, 0, 0, NULL)
                    ON CONFLICT (tbl, pk, col) DO UPDATE SET
                    val = CASE WHEN kmk_clock.val % 2 = 0 THEN kmk_clock.val + 1 ELSE kmk_clock.val END,
                    base = CASE WHEN kmk_clock.hlc IS NULL THEN kmk_clock.base ELSE kmk_clock.hlc END,
                    hlc = NULL, site = 0, seq = NULL
                    WHERE kmk_clock.val % 2 = 0;

            """
        // One statement for all fields (not one per field): SQLite runs each trigger statement
        // as its own program, so a single INSERT … SELECT over the fields is about twice as fast.
        if !synced.isEmpty {
            insert += """
                    INSERT INTO kmk_clock (tbl, pk, col, val, hlc, site, base, seq)
                        SELECT \(t), NEW.id, v.col, v.val, NULL, 0, 0, NULL FROM (\(fieldRows(synced, old: false))) AS v
                        WHERE v.val IS NOT (SELECT val FROM kmk_clock WHERE tbl = \(t) AND pk = NEW.id AND col = v.col)
                        \(pendingUpsert);

                """
        }
        insert += "END;\n"
        var update = """
            CREATE TRIGGER kmk_\(e.name)_update AFTER UPDATE ON \(e.name) BEGIN

            """
        update += """
                INSERT INTO kmk_clock (tbl, pk, col, val, hlc, site, base, seq)
                    SELECT \(t), NEW.id, v.col, v.val, NULL, 0, 0, NULL FROM (\(fieldRows(synced, old: true))) AS v
                    WHERE v.val IS NOT v.old
                    \(pendingUpsert);

            """
        update += "END;\n"
        if synced.isEmpty { update = "" }
        let idGuard = """
            CREATE TRIGGER kmk_\(e.name)_id BEFORE UPDATE OF id ON \(e.name) WHEN NEW.id IS NOT OLD.id BEGIN
                SELECT RAISE(ABORT, 'kmk-sync: a record id cannot change; delete the record and create a new one');
            END;

            """
        // DELETE: the causal length becomes even. `base` is the newest clock of the row this
        // replica knew, so a concurrent update elsewhere can be told apart in the merge ledger.
        let delete = """
            CREATE TRIGGER kmk_\(e.name)_delete AFTER DELETE ON \(e.name) BEGIN
                INSERT INTO kmk_clock (tbl, pk, col, val, hlc, site, base, seq)
                    VALUES (\(t), OLD.id, 0, 2, NULL, 0, coalesce((SELECT max(hlc) FROM kmk_clock WHERE tbl = \(t) AND pk = OLD.id), 0), NULL)
                    ON CONFLICT (tbl, pk, col) DO UPDATE SET
                    val = CASE WHEN kmk_clock.val % 2 = 1 THEN kmk_clock.val + 1 ELSE kmk_clock.val END,
                    base = excluded.base, hlc = NULL, site = 0, seq = NULL
                    WHERE kmk_clock.val % 2 = 1;
            END;

            """
        return insert + update + idGuard + delete
    }
}
