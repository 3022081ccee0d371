import KMKModel

/// The SQL that makes a replica file, derived from the ``Schema``: domain tables with CHECK
/// constraints and their records' registers (the change log), each with its table of records that
/// are not alive and the triggers that capture every write into it (``LogTable``).
///
/// Capture works the same whoever writes: kmk-sync itself, the `sqlite3` shell or a GUI. A trigger
/// marks the written registers *pending* (their bits in `pend`); kmk-sync gives pending records a
/// clock and a sequence number at the end of its own write transactions and whenever it opens
/// the file (``Replica/stampPending()``). See SPEC.md, "Change capture".
enum ReplicaDDL {
    /// The `format` value in `kmk_meta` that marks a file as a replica.
    static let format = "kmk-sync-replica"

    /// An SQL expression that makes a version-7 UUID (SPEC.md §1, "Ids": the time in milliseconds,
    /// then random bits), used as the `id` default so that an INSERT from another program needs no
    /// id. `julianday('now')` is the same throughout one statement, so both halves of the time agree.
    static let uuidExpression = """
        lower(substr(printf('%012x', CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)), 1, 8) || '-' \
        || substr(printf('%012x', CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)), 9, 4) || '-7' \
        || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) \
        || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))
        """

    /// The change-log layout this build writes (`kmk_meta.log_layout`). Files without the key have
    /// layout 1 (one `kmk_clock` row per field), files with 2 the uncompressed clock rows, files
    /// with 3 the compact clock rows of layout 4 but the ledger keyed by text, files with 4 the
    /// clock rows in `kmk_<entity>_clock` beside the records' rows, files with 5 the registers in
    /// the records' rows but the ledger a rowid table with its key a unique index, files with 6
    /// four columns per register in the records' rows; all are migrated when opened
    /// (``Replica/migrate(from:)``).
    static let logLayout: Int64 = 7

    /// The stamp of a kmk-sync write transaction in progress (SPEC.md §4); empty otherwise.
    static let stampTable = """
        CREATE TABLE kmk_stamp (k INTEGER PRIMARY KEY CHECK (k = 0), hlc INTEGER NOT NULL, seq INTEGER NOT NULL, \
        pushed INTEGER NOT NULL) STRICT;
        """

    /// The merge ledger (SPEC.md §8), one row per conflict; the origins are site numbers
    /// (`kmk_site`). The primary key is the entry's key, so that a conflict resolved twice (a
    /// duplicated batch) is one entry, and each entry is one B-tree write (a table `WITHOUT
    /// ROWID`); it starts with the winner's clock, which is recent for most conflicts, so new keys
    /// go near the end instead of at random places. `n` numbers the entries in the order they
    /// were resolved (the last one issued is `kmk_meta.ledger.n`). (Layout 5 had the same columns
    /// in a rowid table, `n` the rowid, with the key a unique index `kmk_ledger_key`: two B-tree
    /// writes per entry. Layouts 1 to 3 keyed each entry by a text of all its parts, kept the
    /// replica ids and indexed `resolved_at`: three.)
    static let ledgerTable = """
        CREATE TABLE kmk_ledger (
            n INTEGER NOT NULL,
            entity TEXT NOT NULL, pk TEXT NOT NULL, field TEXT NOT NULL, delete_won INTEGER NOT NULL,
            win_val ANY, win_hlc INTEGER NOT NULL, win_site INTEGER NOT NULL,
            lose_val ANY, lose_hlc INTEGER NOT NULL, lose_site INTEGER NOT NULL,
            resolved_at INTEGER NOT NULL,
            PRIMARY KEY (win_hlc, pk, field, lose_hlc, win_site, lose_site, entity)
        ) STRICT, WITHOUT ROWID;
        """

    static let metaTables = """
        CREATE TABLE kmk_meta (key TEXT PRIMARY KEY NOT NULL, value ANY) STRICT;
        CREATE TABLE kmk_site (site INTEGER PRIMARY KEY, replica TEXT NOT NULL UNIQUE) STRICT;
        \(stampTable)
        \(ledgerTable)
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
            sql += logTables(e) + "\n"
            sql += triggers(e) + "\n"
        }
        return sql
    }

    /// Which CHECK a text column gets.
    enum TextCheck {
        /// The whole text rule (``FieldSpec/check(_:)``): new files.
        case rule
        /// `length(x) <= N` alone, as files made before the rule have it: the tables a layout
        /// migration rebuilds (``Replica/migrate(from:)``), so that a NUL stored before the rule
        /// cannot stop the migration. The Swift rule, stricter, still guards every kmk-sync write.
        case lengthOnly
    }

    /// The entity's table: its fields, then the register columns of its live records (``LogTable``).
    static func table(_ e: EntitySpec, text: TextCheck = .rule) -> String {
        plainTable(e, registers: LogTable(e).registerDDL, text: text)
    }

    /// The entity's table without the register columns, or with `registers` appended
    /// (``Replica/plainTableSQL(_:)``).
    static func plainTable(_ e: EntitySpec, registers: String? = nil, text: TextCheck = .rule) -> String {
        var cols = [
            "id TEXT PRIMARY KEY NOT NULL DEFAULT (\(uuidExpression)) CHECK (length(id) = 36 OR (length(id) = 4 AND id GLOB '[0-9][0-9][0-9][0-9]'))"
        ]
        for f in e.fields {
            var c = "\(f.name) \(f.kind.sqlType)"
            if let check = check(f, text: text) { c += " CHECK (\(f.name) IS NULL OR (\(check)))" }
            cols.append(c)
        }
        if let registers { cols.append(registers) }
        var sql = "CREATE TABLE \(e.name) (\n    " + cols.joined(separator: ",\n    ") + "\n) STRICT;\n"
        for f in e.referenceFields {
            sql += "CREATE INDEX \(e.name)_\(f.name) ON \(e.name) (\(f.name));\n"
        }
        return sql
    }

    /// The CHECK expression for a field's kind, where SQL can express it: the rule of
    /// ``FieldSpec/check(_:)``, or a looser one where SQL cannot say it all (Swift refuses first).
    /// Text is the same rule exactly (`TextRulePropertyTests`): `length()` counts code points, as
    /// ``FieldSpec/textLength(_:)`` does, but stops at a NUL, so a NUL is refused on its own,
    /// looked for in the value's bytes (`instr` on a BLOB reads past a NUL; on TEXT it would not).
    /// Files made before this rule keep their `length(x) <= N` CHECK, which accepts everything the
    /// Swift rule does (SPEC.md §2).
    static func check(_ f: FieldSpec, text: TextCheck = .rule) -> String? {
        let n = f.name
        switch f.kind {
        case .text(let max) where text == .lengthOnly: return "length(\(n)) <= \(max)"
        case .text(let max): return "length(\(n)) <= \(max) AND instr(CAST(\(n) AS BLOB), x'00') = 0"
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

    /// The table of the entity's records that are not alive, and the `seq` indexes (``LogTable``).
    static func logTables(_ e: EntitySpec) -> String { LogTable(e).ddl }

    /// The entity's capture triggers (``LogTable``).
    static func triggers(_ e: EntitySpec) -> String { LogTable(e).triggers }
}
