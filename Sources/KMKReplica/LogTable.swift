import KMKModel

/// One entity's part of the change log (layout 7, SPEC.md §2 and §4), and the SQL that reads and
/// writes it. Pure: it makes SQL text and holds no connection.
///
/// A record's registers are in its own row: a live record's row in the entity's table, a record
/// that is not alive (deleted, or known only from field changes) its row in `kmk_<entity>_gone`,
/// which also keeps its synced values so that a restore and the merge ledger still have them. Both
/// tables end with the same register columns (``registerDDL``): the causal length `cl`, the
/// record's sequence number `seq`, its reference clock `t` (set when the row is first clocked,
/// never changed), `pend` (bit i set: the register at position i is pending, written and not yet
/// clocked), `wseq` (the number a capture trigger of a kmk-sync transaction gave the record, until
/// the transaction clocks it) and `regs`, every register's stored state in one blob
/// (``RegisterBlob``). Each table has an index on `seq` and one on the pending rows.
///
/// The capture triggers only mark registers pending; kmk-sync clocks them (``Replica``'s stamp,
/// by ``RegisterRules``). Rows are read with ``select(_:order:)`` and decoded in Swift
/// (``RegisterRow``); ``decoded`` decodes them in SQL for statements off the hot paths. (Layouts
/// 3 to 6 had four columns per register, ``layout6ColumnDefinitions``; layouts 2 to 4 kept them
/// in a separate `kmk_<entity>_clock` table keyed by the id, ``legacyClock``.)
///
/// A class, so that the many places that hold one per record (a batch's records, a statement's
/// shape) share it instead of copying its strings.
final class LogTable {
    let entity: EntitySpec
    /// Register numbers: 0 (the lifecycle), then the synced fields' numbers.
    let registers: [Int]
    /// The synced fields, in register order after 0.
    let fields: [FieldSpec]
    /// The position in the entity's fields of each of ``fields``.
    let fieldPositions: [Int]
    /// The entity's number, and facts about its fields by position, for the per-record paths
    /// of an import (which read them without copying ``entity``): whether each is local-only or
    /// required, and the reference fields with their target entities.
    let number: Int
    let localOnly: [Bool]
    let required: [Bool]
    let references: [(position: Int, field: FieldSpec, target: String)]
    /// Each field's position in the entity's fields, by name.
    let positions: [String: Int]

    /// The live records' table (the entity's own) and the other records' table.
    let live: String
    let gone: String
    /// The clock table of layouts 2 to 4, which a migration reads.
    let legacyClock: String

    /// The SQL of the statements below, made once (they run per record).
    private(set) var hasPending: String
    private(set) var carryUnpushed: [String]
    /// Each table's pending rows (``tables`` order), in id order: `rowid, cl, seq, t, pend, regs, wseq, id`;
    /// ?1 1 for those a capture trigger of a kmk-sync transaction numbered (`wseq`), 0 for the others.
    private(set) var pendingRows: [String]
    private(set) var selectByID: String
    private(set) var selectAfter: String
    private(set) var count: String
    /// The causal length of the record with id ?1 whose lifecycle was ever written (no row: never seen).
    private(set) var lifecycleByID: String
    /// Whether the entity has a live record.
    let anyLive: String
    /// Whether any record is kept as not alive; whether the record with id ?1 is.
    let anyKept: String
    let isKept: String

    init(_ entity: EntitySpec) {
        self.entity = entity
        fields = entity.syncedFields
        fieldPositions = entity.fields.indices.filter { !entity.fields[$0].localOnly }
        number = entity.number
        localOnly = entity.fields.map(\.localOnly)
        required = entity.fields.map(\.required)
        references = entity.fields.indices.compactMap { i in
            if case .reference(let target) = entity.fields[i].kind { return (i, entity.fields[i], target) } else { return nil }
        }
        registers = [0] + fields.map(\.number)
        positions = Dictionary(uniqueKeysWithValues: entity.fields.enumerated().map { ($1.name, $0) })
        live = entity.name
        gone = "kmk_\(entity.name)_gone"
        legacyClock = "kmk_\(entity.name)_clock"
        hasPending = ""
        carryUnpushed = []
        pendingRows = []
        selectByID = ""
        selectAfter = ""
        count = ""
        lifecycleByID = ""
        anyLive = "SELECT 1 FROM \(live) LIMIT 1"
        anyKept = "SELECT 1 FROM \(gone) LIMIT 1"
        isKept = "SELECT 1 FROM \(gone) WHERE id = ?1"
        precondition(registers.count <= 63, "an entity has at most 62 synced fields (one bit of `pend` per register)")
        hasPending = "SELECT 1 FROM \(live) WHERE \(Self.pending) UNION ALL SELECT 1 FROM \(gone) WHERE \(Self.pending) LIMIT 1"
        carryUnpushed = tables.map { "UPDATE \($0) SET regs = kmk_carry(regs, ?1) WHERE seq > ?1 AND pend = 0" }
        pendingRows = tables.map {
            // By the partial index (the id index would scan every row to keep the order).
            "SELECT rowid, cl, seq, t, pend, regs, wseq, id FROM \($0) INDEXED BY \($0)_pend WHERE \(Self.pending) AND (wseq IS NOT NULL) = ?1 ORDER BY id"
        }
        selectByID = select("c.id = ?1")
        selectAfter = select("c.seq > ?1 AND c.pend = 0", order: "seq")
        count = makeCount()
        lifecycleByID = bothTables("cl", where: "id = ?1 AND cl > 0")
    }

    /// The rows with a pending register (their partial index ``pendingIndex`` holds only those).
    static let pending = "pend > 0"

    /// `columns` of the rows of both tables (``tables``) that meet `condition`, live rows first.
    func bothTables(_ columns: String, where condition: String? = nil) -> String {
        let filter = condition.map { " WHERE \($0)" } ?? ""
        return "SELECT \(columns) FROM \(live)\(filter) UNION ALL SELECT \(columns) FROM \(gone)\(filter)"
    }

    /// Both tables that hold records' registers.
    var tables: [String] { [live, gone] }

    /// The bit of `pend` of the register at position `i` in ``registers``.
    static func bit(_ i: Int) -> Int64 { 1 << Int64(i) }

    /// Both tables with every register decoded, as a subquery with the column names of layout 6's
    /// register columns (`id, cl, seq, h0, s0, b0, q0, …`: the clock or NULL, the site, the base
    /// or 0, the sequence number, -1 while pending or NULL when never written; `seq` NULL while
    /// the record has a pending register; ``RegisterRow``'s rules in SQL): for statements that
    /// read registers and are not on a hot path (checks, repairs).
    var decoded: String { decoded(where: nil) }

    /// ``decoded`` of the rows that meet `condition` alone.
    func decoded(where condition: String?) -> String {
        let regs = registers.indices.map { i -> String in
            let n = registers[i]
            let pending = "pend & \(Self.bit(i)) != 0"
            let h = "kmk_reg(regs, \(i), 0)"
            return "CASE WHEN \(pending) THEN NULL ELSE t + \(h) END AS h\(n), CASE WHEN \(pending) THEN 0 ELSE kmk_reg(regs, \(i), 1) END AS s\(n), "
                + "coalesce(t + CASE WHEN \(pending) THEN coalesce(\(h), kmk_reg(regs, \(i), 2)) ELSE kmk_reg(regs, \(i), 2) END, 0) AS b\(n), "
                + "CASE WHEN \(pending) THEN -1 WHEN \(h) IS NULL THEN NULL ELSE coalesce(kmk_reg(regs, \(i), 3), seq) END AS q\(n)"
        }
        return "(SELECT id, cl, CASE WHEN pend = 0 THEN seq END AS seq, \(regs.joined(separator: ", ")) FROM ("
            + bothTables("id, cl, seq, t, pend, regs", where: condition) + "))"
    }

    // MARK: - Tables and triggers

    /// The register columns both tables end with (``live`` gets them in ``ReplicaDDL/table(_:)``).
    static let registerDDL = "cl INTEGER NOT NULL DEFAULT 0, seq INTEGER, t INTEGER, pend INTEGER NOT NULL DEFAULT 0, wseq INTEGER, regs BLOB"
    var registerDDL: String { Self.registerDDL }

    /// The register columns, in order.
    static let registerColumns = ["cl", "seq", "t", "pend", "wseq", "regs"]

    /// The register columns a reader or a merge reads and writes: all but `wseq`, which lives
    /// only inside a kmk-sync transaction (``RegisterRow`` reads them in this order).
    static let storedRegisterColumns = registerColumns.filter { $0 != "wseq" }

    /// The index on `seq` of one of ``tables``.
    static func seqIndex(_ table: String) -> String { "CREATE INDEX \(table)_seq ON \(table) (seq);\n" }

    /// The partial index of one of ``tables`` that holds its rows with a pending register.
    static func pendingIndex(_ table: String) -> String { "CREATE INDEX \(table)_pend ON \(table) (pend) WHERE \(pending);\n" }

    /// The indexes of both tables on `seq` and on their pending rows.
    var indexes: String { tables.map { Self.seqIndex($0) + Self.pendingIndex($0) }.joined() }

    /// The table of records that are not alive, and the indexes of both tables (``indexes``).
    var ddl: String {
        let values = fields.map { "\($0.name) \($0.kind.sqlType)" }
        return "CREATE TABLE \(gone) (\n    " + (["id TEXT PRIMARY KEY NOT NULL"] + values + [registerDDL]).joined(separator: ",\n    ")
            + "\n) STRICT;\n" + indexes
    }

    /// Drops the capture triggers (before the tables change).
    var dropTriggers: String {
        ["insert", "update", "delete", "id"].map { "DROP TRIGGER IF EXISTS kmk_\(entity.name)_\($0);" }.joined(separator: "\n")
    }

    /// The capture triggers (SPEC.md §4). They use only built-in SQL, so they run in any client.
    /// Each marks the registers it writes pending in the row it fires for (found by rowid), and in a
    /// kmk-sync transaction (a `kmk_stamp` row) gives the record the next sequence number in
    /// `wseq`; kmk-sync clocks them before the transaction commits, or, written by another
    /// program, when it next opens the file. A record that stops or starts being alive moves,
    /// with its registers, between ``live`` and ``gone``.
    var triggers: String {
        let e = entity.name
        let number = "wseq = (SELECT seq + 1 FROM kmk_stamp)"
        let next = "UPDATE kmk_stamp SET seq = seq + 1;"
        let row = "\(live).rowid = NEW.rowid"
        let known = "SELECT 1 FROM \(gone) WHERE id = NEW.id"
        /// The bits of the fields for which `condition` (with `$0` a field name) holds.
        func bits(_ condition: (String) -> String) -> String {
            (["0"] + fields.indices.map { "((\(condition(fields[$0].name))) << \($0 + 1))" }).joined(separator: " | ")
        }
        // INSERT: a new record (its lifecycle and non-null fields written), or the re-creation of
        // one that is not alive: it takes its registers from `gone`, its causal length becomes
        // odd, and its fields are written where they differ from the values it had.
        let columns = Self.registerColumns.joined(separator: ", ")
        let insert = """
            CREATE TRIGGER kmk_\(e)_insert AFTER INSERT ON \(e) BEGIN
                UPDATE \(live) SET cl = 1, seq = NULL, t = NULL, pend = 1 | \(bits { "NEW.\($0) IS NOT NULL" }), \(number), regs = NULL
                    WHERE \(row) AND NOT EXISTS (\(known));
                UPDATE \(live) SET (\(columns)) = (SELECT \(columns) FROM \(gone) WHERE id = NEW.id) WHERE \(row) AND EXISTS (\(known));
                UPDATE \(live) SET cl = cl + 1, pend = pend | 1 | \(bits { "NEW.\($0) IS NOT (SELECT \($0) FROM \(gone) WHERE id = NEW.id)" }), \(number)
                    WHERE \(row) AND cl % 2 = 0 AND EXISTS (\(known));
                DELETE FROM \(gone) WHERE id = NEW.id;
                \(next)
            END;

            """

        var update = ""
        if !fields.isEmpty {
            let changed = fields.map { "NEW.\($0.name) IS NOT OLD.\($0.name)" }
            update = """
                CREATE TRIGGER kmk_\(e)_update AFTER UPDATE OF \(fields.map(\.name).joined(separator: ", ")) ON \(e)
                WHEN \(changed.joined(separator: " OR ")) BEGIN
                    UPDATE \(live) SET pend = pend | \(bits { "NEW.\($0) IS NOT OLD.\($0)" }), \(number) WHERE \(row);
                    \(next)
                END;

                """
        }
        let idGuard = """
            CREATE TRIGGER kmk_\(e)_id BEFORE UPDATE OF id ON \(e) WHEN NEW.id IS NOT OLD.id BEGIN
                SELECT RAISE(ABORT, 'kmk-sync: a record id cannot change; delete the record and create a new one');
            END;

            """
        // DELETE: the row moves to `gone` with its values and registers, its causal length becomes
        // even and its lifecycle pending (the stamp gives it as base the newest clock the record had).
        let kept = ["id"] + fields.map(\.name) + Self.registerColumns
        let delete = """
            CREATE TRIGGER kmk_\(e)_delete AFTER DELETE ON \(e) BEGIN
                INSERT OR REPLACE INTO \(gone) (\(kept.joined(separator: ", ")))
                    VALUES (\(kept.map { "OLD.\($0)" }.joined(separator: ", ")));
                UPDATE \(gone) SET cl = cl + 1, pend = pend | 1, \(number) WHERE id = OLD.id AND cl % 2 = 1;
                \(next)
            END;

            """
        return insert + update + idGuard + delete
    }

    // MARK: - Statements

    /// The columns of ``select(_:order:)``: `id, cl, seq, t, pend, regs` (as stored: ``RegisterRow``
    /// decodes them), then each synced field's value.
    var selectColumns: String {
        (["c.id"] + Self.storedRegisterColumns.map { "c.\($0)" } + fields.map { "c.\($0.name)" }).joined(separator: ", ")
    }

    /// Reads the records of both tables that meet `condition` (on the row `c`), with their
    /// registers and values, in `order` (a column of ``selectColumns``) when given.
    func select(_ condition: String, order: String? = nil) -> String {
        "SELECT \(selectColumns) FROM \(live) c WHERE \(condition) UNION ALL SELECT \(selectColumns) FROM \(gone) c WHERE \(condition)"
            + (order.map { " ORDER BY \($0)" } ?? "")
    }

    /// ``select(_:order:)``'s columns followed by the rowid of a live record's row (NULL for a row
    /// of ``gone``) at ``liveRowidColumn``, for the records whose ids are in the JSON array ?1.
    var selectForApply: String {
        "SELECT \(selectColumns), c.rowid FROM json_each(?1) AS j JOIN \(live) c ON c.id = j.value "
            + "UNION ALL SELECT \(selectColumns), NULL FROM json_each(?1) AS j JOIN \(gone) c ON c.id = j.value"
    }

    /// Column index of `cl` in ``select(_:order:)`` (``Statement/registerRow(at:count:liveRowid:)``).
    static let registerColumn: Int32 = 1

    /// Column index of the value of synced field `i` (its position in ``fields``).
    func valueColumn(_ i: Int) -> Int32 { Int32(6 + i) }

    /// Column index of the live row's rowid in ``selectForApply``.
    var liveRowidColumn: Int32 { valueColumn(fields.count) }

    /// How many registers have a sequence number above ?1 (a record numbered above ?1 is not
    /// pending, so each of its registers with a clock has a number).
    private func makeCount() -> String {
        let sum = "coalesce(sum(kmk_count(regs, seq, ?1)), 0)"
        return "SELECT (SELECT \(sum) FROM \(live) WHERE seq > ?1 AND pend = 0) + (SELECT \(sum) FROM \(gone) WHERE seq > ?1 AND pend = 0)"
    }

    // MARK: - Layouts 2 to 6

    /// The four columns of every register in layouts 3 to 6, in register order: `h0, s0, b0, q0, h3, s3, …`.
    var layout6Columns: [String] {
        registers.flatMap { ["h\($0)", "s\($0)", "b\($0)", "q\($0)"] }
    }

    /// Layouts 3 to 6's register columns with `cl, seq, t` first.
    var layout6AllColumns: [String] { ["cl", "seq", "t"] + layout6Columns }

    /// The definitions of ``layout6AllColumns``, one by one (for `ALTER TABLE ... ADD COLUMN`).
    var layout6ColumnDefinitions: [String] {
        ["cl INTEGER NOT NULL DEFAULT 0", "seq INTEGER", "t INTEGER"]
            + registers.flatMap { ["h\($0) INTEGER", "s\($0) INTEGER NOT NULL DEFAULT 0", "b\($0) INTEGER", "q\($0) INTEGER"] }
    }

    /// Gives every stamped register of a layout-3-to-6 row with a sequence number above ?1 (the
    /// push mark) its record's number, in `table` (a migration runs it on the clock table).
    func layout6CarryUnpushed(in table: String) -> String {
        let sets = registers.map { "q\($0) = CASE WHEN q\($0) > ?1 THEN NULL ELSE q\($0) END" }
        return "UPDATE \(table) SET \(sets.joined(separator: ", ")) WHERE seq > ?1"
    }

    /// The pending bits of a layout-6 row (a register with `q` -1 is pending), as SQL.
    var layout6Pending: String {
        (["0"] + registers.indices.map { "((q\(registers[$0]) IS -1) << \($0))" }).joined(separator: " | ")
    }

    /// The clock table of layouts 2 to 4, which migrations of older files still write.
    var legacyClockDDL: String {
        "CREATE TABLE \(legacyClock) (id TEXT PRIMARY KEY NOT NULL, \(layout6ColumnDefinitions.joined(separator: ", "))) STRICT, WITHOUT ROWID;\n"
    }

    /// The kept-values table of layouts 2 to 4.
    var legacyGoneDDL: String {
        let values = fields.map { "\($0.name) \($0.kind.sqlType)" }
        return "CREATE TABLE \(gone) (" + (["id TEXT PRIMARY KEY NOT NULL"] + values).joined(separator: ", ") + ") STRICT;\n"
    }

    /// Rewrites layout-2 clock rows to layout 3's (and 4's): `source` is a query whose columns are named
    /// as layout 2's (`id, cl, seq, h0, s0, b0, q0, …`, absolute clocks, base 0 for none, every
    /// written register's sequence number). A row's `t` is its first clock (or base) in register
    /// order; a register whose number is the record's stores NULL.
    func insertConverted(from source: String) -> String {
        let reference = (registers.map { "o.h\($0)" } + registers.map { "nullif(o.b\($0), 0)" }).joined(separator: ", ")
        let regs = registers.flatMap { n in
            ["r.h\(n) - r.t", "r.s\(n)", "nullif(r.b\(n), 0) - r.t", "CASE WHEN r.h\(n) IS NOT NULL AND r.q\(n) IS r.seq THEN NULL ELSE r.q\(n) END"]
        }
        return """
            INSERT INTO \(legacyClock) (id, cl, seq, t, \(layout6Columns.joined(separator: ", ")))
            SELECT r.id, r.cl, r.seq, r.t, \(regs.joined(separator: ", "))
            FROM (SELECT o.*, coalesce(\(reference)) AS t FROM (\(source)) AS o) AS r
            """
    }
}
