import KMKModel

extension Replica {
    /// Migrates a file of an older change-log layout (`layout`, 1 to 6) to the current one, in one
    /// write transaction, then compacts it (`VACUUM`) when no other connection is reading it
    /// (compacting is optional: the migrated file is whole without it). Nothing is done when the
    /// file has another layout by the time the lock is held: another kmk-sync that opened the file
    /// at the same time migrated it while this one waited, and its tables must not be converted
    /// twice.
    ///
    /// Layouts 1 and 2 get layout 4's clock rows, layouts 1 to 3 the current ledger, layouts 4
    /// and 5 the current ledger's table; then the registers of layouts 1 to 4 move from the clock
    /// rows into the records' own rows (layout 6's columns), and every file's register columns
    /// become layout 7's blob.
    func migrate(from layout: Int64) throws {
        let migrated = try db.transaction { () throws -> Bool in
            guard try meta("log_layout").integer ?? 1 == layout else { return false }
            // Every trigger goes first, and comes back last: a RENAME parses each trigger in the
            // schema, which made the migration of a small file take seconds.
            for t in logTables { try db.execute(t.dropTriggers) }
            switch layout {
            case 1: try migrateLayout1()
            case 2: try migrateLayout2()
            default: break
            }
            if layout <= 3 { try migrateLedger() } else if layout <= 5 { try migrateLedgerTable() }
            if layout <= 4 { try migrateLayout4() }
            try migrateLayout6()
            try setMeta("ledger.n", .integer(try db.prepare("SELECT coalesce(max(n), 0) FROM kmk_ledger").first { $0.int64(0) } ?? 0))
            for t in logTables { try db.execute(t.triggers) }
            try setMeta("log_layout", .integer(ReplicaDDL.logLayout))
            return true
        }
        if migrated { try? db.execute("VACUUM") }
    }

    /// Rewrites the merge ledger of layouts 1 to 3 (each entry keyed by a text of its parts, the
    /// origins as replica ids) to the current one (``ReplicaDDL/ledgerTable``: origins as site
    /// numbers, the key a unique index), inside ``migrate(from:)``'s transaction. Every entry
    /// keeps its parts and the listing order (`resolved_at`, then the old key); an origin that
    /// is not yet in `kmk_site` (a write that only ever lost here) gets a site number.
    private func migrateLedger() throws {
        let origins = try db.prepare("SELECT win_origin FROM kmk_ledger UNION SELECT lose_origin FROM kmk_ledger").rows { $0.text(0) ?? "" }
        for origin in origins { _ = try siteNumber(origin) }
        try db.execute("""
            ALTER TABLE kmk_ledger RENAME TO kmk_ledger_layout3;
            DROP INDEX IF EXISTS kmk_ledger_time;
            \(ReplicaDDL.ledgerTable)
            INSERT INTO kmk_ledger (n, entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, lose_site, resolved_at)
            SELECT row_number() OVER (ORDER BY o.resolved_at, o.id), o.entity, o.pk, o.field, o.delete_won, o.win_val, o.win_hlc, w.site,
              o.lose_val, o.lose_hlc, l.site, o.resolved_at
            FROM kmk_ledger_layout3 AS o JOIN kmk_site AS w ON w.replica = o.win_origin JOIN kmk_site AS l ON l.replica = o.lose_origin
            ORDER BY o.resolved_at, o.id;
            DROP TABLE kmk_ledger_layout3;
            """)
    }

    /// Moves the merge ledger of layouts 4 and 5 (a rowid table, `n` the rowid, its key the
    /// unique index `kmk_ledger_key`) into the current table (``ReplicaDDL/ledgerTable``: the key
    /// its primary key, `WITHOUT ROWID`), inside ``migrate(from:)``'s transaction. Every entry
    /// keeps its columns and its number.
    private func migrateLedgerTable() throws {
        try db.execute("""
            ALTER TABLE kmk_ledger RENAME TO kmk_ledger_layout5;
            DROP INDEX IF EXISTS kmk_ledger_key;
            \(ReplicaDDL.ledgerTable)
            INSERT INTO kmk_ledger (n, entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, lose_site, resolved_at)
            SELECT n, entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, lose_site, resolved_at
            FROM kmk_ledger_layout5 ORDER BY n;
            DROP TABLE kmk_ledger_layout5;
            """)
    }

    /// Rewrites a file of change-log layout 1 (one `kmk_clock` row per field, with the value) to
    /// layout 4's clock rows (one per record, which ``migrateLayout4()`` then moves into the
    /// records' rows), inside ``migrate(from:)``'s transaction: a kill or a full disk leaves the
    /// file as it was (SPEC.md §2, "Older files").
    ///
    /// Every register keeps its value, clock, origin, base and sequence number; pending changes
    /// stay pending; a record that is not alive keeps its values in `kmk_<entity>_gone`. Registers
    /// not yet pushed take their record's newest sequence number, as in layouts 2 to 5 (SPEC.md
    /// §4), so the next push sends exactly what layout 1 would have sent.
    private func migrateLayout1() throws {
        let oldLog = try db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kmk_clock'").first { $0.int64(0) }
        guard oldLog == 1 else {
            throw ReplicaError(.badFile, "\(path) has neither the old change log (kmk_clock) nor a layout mark; it is damaged: "
                + "restore it from a backup")
        }
        let pushed = try meta("push.seq").integer ?? 0
        try db.execute(ReplicaDDL.stampTable)
        for t in logTables {
            let e = t.entity
            try db.execute(t.legacyClockDDL + t.legacyGoneDDL)
            // One row per record: each register's columns from its old row (q -1 when pending),
            // the record's sequence number the newest of its rows (NULL when one is pending).
            // (Layout 2's row, then encoded as layout 3's by ``LogTable/insertConverted(from:)``.)
            let registers = t.registers.flatMap { n in
                [
                    "max(CASE WHEN col = \(n) THEN hlc END) AS h\(n)",
                    "coalesce(max(CASE WHEN col = \(n) THEN site END), 0) AS s\(n)",
                    "coalesce(max(CASE WHEN col = \(n) THEN base END), 0) AS b\(n)",
                    "max(CASE WHEN col = \(n) THEN coalesce(seq, -1) END) AS q\(n)",
                ]
            }
            let synced = Set(t.registers)
            try db.execute(t.insertConverted(from: """
                SELECT pk AS id, coalesce(max(CASE WHEN col = 0 THEN val END), 0) AS cl,
                  CASE WHEN count(seq) < count(*) THEN NULL ELSE max(seq) END AS seq, \(registers.joined(separator: ", "))
                FROM kmk_clock WHERE tbl = \(e.number) AND col IN (\(synced.sorted().map(String.init).joined(separator: ", ")))
                GROUP BY pk
                """))
            if !t.fields.isEmpty {
                let values = t.fields.map { "max(CASE WHEN col = \($0.number) THEN val END)" }
                try db.execute("""
                    INSERT INTO \(t.gone) (id, \(t.fields.map(\.name).joined(separator: ", ")))
                    SELECT pk, \(values.joined(separator: ", ")) FROM kmk_clock
                    WHERE tbl = \(e.number) AND pk IN (SELECT id FROM \(t.legacyClock) WHERE cl % 2 = 0) GROUP BY pk
                    """)
            } else {
                try db.execute("INSERT INTO \(t.gone) (id) SELECT id FROM \(t.legacyClock) WHERE cl % 2 = 0")
            }
            try db.prepare(t.layout6CarryUnpushed(in: t.legacyClock)).run([.integer(pushed)])
        }
        try db.execute("DROP TABLE kmk_clock")
    }

    /// Rewrites a file of change-log layout 2 (absolute clocks, bases and sequence numbers in
    /// each clock row) to layout 3's clock rows (relative clocks and bases, a sequence number
    /// equal to the record's not stored), inside ``migrate(from:)``'s transaction. Every register
    /// keeps its clock, origin, base and sequence number; pending changes stay pending. Only the
    /// clock tables change here (``migrate(from:)`` re-makes the triggers and the ledger).
    private func migrateLayout2() throws {
        for t in logTables {
            let old = "\(t.legacyClock)_layout2"
            try db.execute("DROP INDEX IF EXISTS \(t.legacyClock)_seq")
            try db.execute("ALTER TABLE \(t.legacyClock) RENAME TO \(old)")
            try db.execute(t.legacyClockDDL)
            try db.execute(t.insertConverted(from: "SELECT * FROM \(old)"))
            try db.execute("DROP TABLE \(old)")
        }
    }

    /// Moves the registers of layout 4's clock rows (`kmk_<entity>_clock`, one per record) into
    /// the records' own rows (layout 5, ``LogTable``): the register columns are added to the
    /// entity's table and to `kmk_<entity>_gone`, each row takes its clock row's columns as they
    /// are (the encoding is the same), and the clock table goes. A clock row whose record has no
    /// row in either table (a damaged file) gets a row in `gone`, so no register is lost.
    private func migrateLayout4() throws {
        for t in logTables {
            for table in t.tables {
                for column in t.layout6ColumnDefinitions { try db.execute("ALTER TABLE \(table) ADD COLUMN \(column)") }
            }
            try db.execute("""
                INSERT INTO \(t.gone) (id) SELECT id FROM \(t.legacyClock)
                WHERE id NOT IN (SELECT id FROM \(t.live)) AND id NOT IN (SELECT id FROM \(t.gone))
                """)
            let registers = t.layout6AllColumns
            for table in t.tables {
                try db.execute("""
                    UPDATE \(table) SET (\(registers.joined(separator: ", "))) = (\(registers.map { "c.\($0)" }.joined(separator: ", ")))
                    FROM \(t.legacyClock) AS c WHERE c.id = \(table).id
                    """)
            }
            try db.execute("DROP INDEX IF EXISTS \(t.legacyClock)_seq")
            try db.execute("DROP TABLE \(t.legacyClock)")
        }
    }

    /// Rewrites the records' rows of layouts 5 and 6 (four columns per register) to layout 7's
    /// (``LogTable``: `pend`, `wseq` and one `regs` blob), inside ``migrate(from:)``'s transaction:
    /// both tables of each entity are made anew and take every row with its rowid, values, `cl`,
    /// `seq` and `t`; each register keeps its stored state (``RegisterBlob``, by `kmk_pack`), and a
    /// pending one (`q` -1) sets its bit of `pend` and keeps its base.
    private func migrateLayout6() throws {
        for t in logTables {
            let e = t.entity
            for table in t.tables { try db.execute("DROP INDEX IF EXISTS \(table)_seq") }
            for f in e.referenceFields { try db.execute("DROP INDEX IF EXISTS \(e.name)_\(f.name)") }
            try db.execute("ALTER TABLE \(t.live) RENAME TO \(t.live)_layout6")
            try db.execute("ALTER TABLE \(t.gone) RENAME TO \(t.gone)_layout6")
            try db.execute(ReplicaDDL.table(e, text: .lengthOnly) + t.ddl)  // the file's own text CHECK
            let registers = "cl, seq, t, \(t.layout6Pending), kmk_pack(\(t.layout6Columns.joined(separator: ", ")))"
            for (table, values) in [(t.live, e.fields.map(\.name)), (t.gone, t.fields.map(\.name))] {
                let columns = (["rowid", "id"] + values).joined(separator: ", ")
                try db.execute("""
                    INSERT INTO \(table) (\(columns), cl, seq, t, pend, regs) SELECT \(columns), \(registers) FROM \(table)_layout6 ORDER BY rowid;
                    DROP TABLE \(table)_layout6;
                    """)
            }
        }
    }
}
