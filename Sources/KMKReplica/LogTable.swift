import KMKModel

/// One entity's part of the change log (layouts 5 and 6, SPEC.md §2 and §4), and the SQL that reads and
/// writes it. Pure: it makes SQL text and holds no connection.
///
/// A record's registers are columns of its own row: a live record's row in the entity's table, a
/// record that is not alive (deleted, or known only from field changes) its row in
/// `kmk_<entity>_gone`, which also keeps its synced values so that a restore and the merge ledger
/// still have them. Both tables carry the same register columns (``registerDDL``) and an index on
/// `seq`: the causal length `cl`, the record's sequence number `seq` (NULL while something in the
/// row is pending), its reference clock `t` (set when the row is first clocked, never changed),
/// and for each *register* (the lifecycle, number 0, and each synced field, by field number `n`)
/// four columns, stored compactly: `h<n>` the clock of the winning write minus `t` (NULL while
/// pending or never written), `s<n>` its origin site, `b<n>` the clock it overwrote minus `t`
/// (NULL: none), and `q<n>` its sequence number: NULL when it equals the record's (or the register
/// was never written: `h<n>` is then NULL too), -1 while pending. Registers written together with
/// the row's first clock therefore store zeros and NULLs, which SQLite keeps in the record header
/// alone (SPEC.md §2).
///
/// ``select(_:order:)`` and ``decoded`` read them back as absolute values (the clock, the site,
/// the base or 0, the sequence number or -1), so only the statements that write registers know
/// the encoding. (Layouts 2 to 4 kept the registers in a separate `kmk_<entity>_clock` table keyed
/// by the id, ``legacyClock``.)
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

    /// The live records' table (the entity's own) and the other records' table.
    let live: String
    let gone: String
    /// The clock table of layouts 2 to 4, which a migration reads.
    let legacyClock: String

    /// The SQL of the statements below, made once (they run per record): ``makeStamp()`` etc.
    private(set) var stamp: [String]
    private(set) var hasPending: String
    private(set) var carryUnpushed: [String]
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
        live = entity.name
        gone = "kmk_\(entity.name)_gone"
        legacyClock = "kmk_\(entity.name)_clock"
        stamp = []
        hasPending = ""
        carryUnpushed = []
        selectByID = ""
        selectAfter = ""
        count = ""
        lifecycleByID = ""
        anyLive = "SELECT 1 FROM \(live) LIMIT 1"
        anyKept = "SELECT 1 FROM \(gone) LIMIT 1"
        isKept = "SELECT 1 FROM \(gone) WHERE id = ?1"
        stamp = makeStamp()
        hasPending = "SELECT 1 FROM \(live) WHERE \(Self.pending) UNION ALL SELECT 1 FROM \(gone) WHERE \(Self.pending) LIMIT 1"
        carryUnpushed = makeCarryUnpushed()
        selectByID = select("c.id = ?1")
        selectAfter = select("c.seq > ?1", order: "seq")
        count = makeCount()
        lifecycleByID = bothTables("cl", where: "id = ?1 AND \(Self.isWritten(0))")
    }

    /// The rows the stamp numbers: a record with something pending has no number. (A row with
    /// causal length 0 and no number was written with the triggers off and has no register to
    /// stamp; ``Replica/check()`` reports it.)
    static let pending = "seq IS NULL AND cl > 0"

    /// `columns` of the rows of both tables (``tables``) that meet `condition`, live rows first.
    func bothTables(_ columns: String, where condition: String? = nil) -> String {
        let filter = condition.map { " WHERE \($0)" } ?? ""
        return "SELECT \(columns) FROM \(live)\(filter) UNION ALL SELECT \(columns) FROM \(gone)\(filter)"
    }

    /// Both tables that hold records' registers.
    var tables: [String] { [live, gone] }

    /// The four columns of every register, in register order: `h0, s0, b0, q0, h3, s3, …`.
    var registerColumns: [String] {
        registers.flatMap { ["h\($0)", "s\($0)", "b\($0)", "q\($0)"] }
    }

    // MARK: - Reading the encoding

    /// Register `n`'s clock as an absolute value (NULL while pending or never written); `c` is
    /// the row's table name or alias with its dot, or empty.
    static func clockOf(_ n: Int, _ c: String = "") -> String { "\(c)t + \(c)h\(n)" }

    /// Register `n`'s base as an absolute value, 0 when none.
    static func baseOf(_ n: Int, _ c: String = "") -> String { "coalesce(\(c)t + \(c)b\(n), 0)" }

    /// Register `n`'s sequence number: the record's when not stored, -1 while pending, NULL when
    /// never written.
    static func seqOf(_ n: Int, _ c: String = "") -> String {
        "CASE WHEN \(c)h\(n) IS NULL THEN \(c)q\(n) ELSE coalesce(\(c)q\(n), \(c)seq) END"
    }

    /// Whether register `n` was ever written (it has a clock, or is pending).
    static func isWritten(_ n: Int, _ c: String = "") -> String { "(\(c)h\(n) IS NOT NULL OR \(c)q\(n) IS NOT NULL)" }

    /// Both tables with every register decoded, as a subquery with the column names of the
    /// register columns (`id, cl, seq, h0, s0, b0, q0, …`): for statements that read registers and are
    /// not on a hot path (checks, repairs).
    var decoded: String {
        let regs = registers.map { "\(Self.clockOf($0)) AS h\($0), s\($0), \(Self.baseOf($0)) AS b\($0), \(Self.seqOf($0)) AS q\($0)" }
        return "(" + bothTables("id, cl, seq, \(regs.joined(separator: ", "))") + ")"
    }

    /// Both tables' rows with the stored (encoded) register columns, as a subquery:
    /// `id, cl, seq, t, h0, s0, b0, q0, …`.
    var stored: String {
        "(" + bothTables((["id"] + allRegisterColumns).joined(separator: ", ")) + ")"
    }

    // MARK: - Tables and triggers

    /// The register columns both tables end with (``live`` gets them in ``ReplicaDDL/table(_:)``).
    var registerDDL: String { registerColumnDefinitions.joined(separator: ", ") }

    /// The definitions of ``registerDDL``'s columns, one by one (for `ALTER TABLE ... ADD COLUMN`).
    var registerColumnDefinitions: [String] {
        ["cl INTEGER NOT NULL DEFAULT 0", "seq INTEGER", "t INTEGER"]
            + registers.flatMap { ["h\($0) INTEGER", "s\($0) INTEGER NOT NULL DEFAULT 0", "b\($0) INTEGER", "q\($0) INTEGER"] }
    }

    /// The index on `seq` of one of ``tables``.
    static func seqIndex(_ table: String) -> String { "CREATE INDEX \(table)_seq ON \(table) (seq);\n" }

    /// The table of records that are not alive, and the `seq` indexes of both tables.
    var ddl: String {
        let values = fields.map { "\($0.name) \($0.kind.sqlType)" }
        return "CREATE TABLE \(gone) (\n    " + (["id TEXT PRIMARY KEY NOT NULL"] + values + [registerDDL]).joined(separator: ",\n    ")
            + "\n) STRICT;\n" + Self.seqIndex(live) + Self.seqIndex(gone)
    }

    /// The register columns, in order: `cl, seq, t, h0, s0, b0, q0, …`.
    var allRegisterColumns: [String] { ["cl", "seq", "t"] + registerColumns }

    /// The stamp of a write, as SQL expressions: `h` its clock, `rs` the record's new sequence
    /// number, `p` the push mark (all NULL when another program writes: no `kmk_stamp` row), `z`
    /// a register's stored clock when written with the record's first clock (0, NULL when
    /// pending) and `pq` a written register's stored sequence number (NULL: the record's; -1
    /// when pending).
    typealias Stamp = (h: String, rs: String, p: String, z: String, pq: String)

    /// The stamp kmk-sync's own write transactions leave in `kmk_stamp` (SPEC.md §4) as one row
    /// `st`; all NULL (`pq` -1) when another program writes (an aggregate over the empty table).
    /// Read once per statement.
    static let stampRow = "(SELECT max(hlc) AS hlc, max(seq) + 1 AS rs, max(pushed) AS p, max(hlc) * 0 AS z, "
        + "CASE WHEN count(*) = 0 THEN -1 END AS pq FROM kmk_stamp) AS st"
    static let stampJoined: Stamp = (h: "st.hlc", rs: "st.rs", p: "st.p", z: "st.z", pq: "st.pq")

    /// The SET terms for register `n` of a record a trigger writes. When `changed` holds the
    /// register takes the new write: the stamp's clock and number, or pending (no clock, -1)
    /// when there is no stamp; the clock it overwrote becomes its base (a register written
    /// pending, or earlier in the same transaction, keeps its base). Otherwise a pending register
    /// takes the stamp, and one not yet pushed takes the record's new number. In the encoding:
    /// clocks are relative to `t` (which a statement sets to the stamp's clock when it has none
    /// yet, ``setReference(_:)``), and a register whose number stays its record's old one while
    /// the record takes a new number (pushed, or the write is pending) stores that old number.
    /// `changed` "1" and "0" (known when the SQL is made) leave out the terms that do nothing.
    func write(_ n: Int, when changed: String, _ stamp: Stamp = LogTable.stampJoined) -> [String] {
        let (h, _, p, _, pq) = stamp
        let relative = "\(h) - coalesce(t, \(h))"
        let renumber = "WHEN q\(n) > \(p) THEN NULL WHEN q\(n) IS NULL AND h\(n) IS NOT NULL AND ifnull(seq <= \(p), 1) THEN seq ELSE q\(n) END"
        switch changed {
        case "1":
            return [
                "b\(n) = CASE WHEN h\(n) IS NOT NULL AND h\(n) IS NOT \(relative) THEN h\(n) ELSE b\(n) END",
                "h\(n) = \(relative)", "s\(n) = 0", "q\(n) = \(pq)",
            ]
        case "0":
            // Not written: base and site stay; a pending register takes the stamp.
            return [
                "h\(n) = CASE WHEN q\(n) = -1 THEN \(relative) ELSE h\(n) END",
                "q\(n) = CASE WHEN q\(n) = -1 THEN \(pq) \(renumber)",
            ]
        default:
            return [
                "b\(n) = CASE WHEN \(changed) AND h\(n) IS NOT NULL AND h\(n) IS NOT \(relative) THEN h\(n) ELSE b\(n) END",
                "h\(n) = CASE WHEN \(changed) OR q\(n) = -1 THEN \(relative) ELSE h\(n) END",
                "s\(n) = CASE WHEN \(changed) THEN 0 ELSE s\(n) END",
                "q\(n) = CASE WHEN \(changed) OR q\(n) = -1 THEN \(pq) \(renumber)",
            ]
        }
    }

    /// The SET term that gives a row its reference clock `t` when it has none (a record first
    /// written by another program and not yet clocked).
    static func setReference(_ stamp: Stamp) -> String { "t = coalesce(t, \(stamp.h))" }

    /// Drops the capture triggers (before the tables change).
    var dropTriggers: String {
        ["insert", "update", "delete", "id"].map { "DROP TRIGGER IF EXISTS kmk_\(entity.name)_\($0);" }.joined(separator: "\n")
    }

    /// The capture triggers (SPEC.md §4). They use only built-in SQL, so they run in any client.
    /// Each writes the registers of the row it fires for (found by rowid); a record that stops or
    /// starts being alive moves, with its registers, between ``live`` and ``gone``.
    var triggers: String {
        let e = entity.name
        let st = LogTable.stampJoined
        let next = "UPDATE kmk_stamp SET seq = seq + 1;"
        let row = "\(live).rowid = NEW.rowid"
        let known = "SELECT 1 FROM \(gone) WHERE id = NEW.id"
        // INSERT: a new record, or the re-creation of one that is not alive (its causal length
        // becomes odd). A new record's non-null fields are written; a re-created one takes its
        // registers from `gone`, and its fields are written where they differ from the values it had.
        let fresh = ["cl = 1", "seq = \(st.rs)", "t = \(st.h)", "h0 = \(st.z)", "s0 = 0", "b0 = NULL", "q0 = \(st.pq)"] + fields.flatMap {
            ["h\($0.number) = CASE WHEN NEW.\($0.name) IS NOT NULL THEN \(st.z) END", "s\($0.number) = 0", "b\($0.number) = NULL",
             "q\($0.number) = CASE WHEN NEW.\($0.name) IS NOT NULL THEN \(st.pq) END"]
        }
        let columns = allRegisterColumns.joined(separator: ", ")
        let revive = ["seq = \(st.rs)", "cl = cl + 1", LogTable.setReference(st)] + write(0, when: "1")
            + fields.flatMap { write($0.number, when: "(NEW.\($0.name) IS NOT (SELECT \($0.name) FROM \(gone) WHERE id = NEW.id))") }
        let insert = """
            CREATE TRIGGER kmk_\(e)_insert AFTER INSERT ON \(e) BEGIN
                UPDATE \(live) SET \(fresh.joined(separator: ", ")) FROM \(LogTable.stampRow) WHERE \(row) AND NOT EXISTS (\(known));
                UPDATE \(live) SET (\(columns)) = (SELECT \(columns) FROM \(gone) WHERE id = NEW.id) WHERE \(row) AND EXISTS (\(known));
                UPDATE \(live) SET \(revive.joined(separator: ", "))
                    FROM \(LogTable.stampRow) WHERE \(row) AND \(live).cl % 2 = 0 AND EXISTS (\(known));
                DELETE FROM \(gone) WHERE id = NEW.id;
                \(next)
            END;

            """

        var update = ""
        if !fields.isEmpty {
            let changed = fields.map { "NEW.\($0.name) IS NOT OLD.\($0.name)" }
            let sets = [LogTable.setReference(st)] + write(0, when: "0")
                + fields.flatMap { write($0.number, when: "(NEW.\($0.name) IS NOT OLD.\($0.name))") }
            update = """
                CREATE TRIGGER kmk_\(e)_update AFTER UPDATE OF \(fields.map(\.name).joined(separator: ", ")) ON \(e)
                WHEN \(changed.joined(separator: " OR ")) BEGIN
                    UPDATE \(live) SET seq = \(st.rs), \(sets.joined(separator: ", ")) FROM \(LogTable.stampRow) WHERE \(row);
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
        // even. The lifecycle's base is the newest clock of the record this replica knew, so a
        // concurrent update elsewhere can be told apart in the merge ledger.
        let newest = (registers.map { "CASE WHEN t + h\($0) IS \(st.h) THEN 0 ELSE coalesce(t + h\($0), 0) END" } + ["0"])
            .joined(separator: ", ")
        let sets = [LogTable.setReference(st), "b0 = nullif(max(\(newest)), 0) - t", "h0 = \(st.h) - coalesce(t, \(st.h))", "s0 = 0",
                    "q0 = \(st.pq)"] + fields.flatMap { write($0.number, when: "0") }
        let kept = ["id"] + fields.map(\.name) + allRegisterColumns
        let delete = """
            CREATE TRIGGER kmk_\(e)_delete AFTER DELETE ON \(e) BEGIN
                INSERT OR REPLACE INTO \(gone) (\(kept.joined(separator: ", ")))
                    VALUES (\(kept.map { "OLD.\($0)" }.joined(separator: ", ")));
                UPDATE \(gone) SET seq = \(st.rs), cl = cl + 1, \(sets.joined(separator: ", "))
                    FROM \(LogTable.stampRow) WHERE \(gone).id = OLD.id AND \(gone).cl % 2 = 1;
                \(next)
            END;

            """
        return insert + update + idGuard + delete
    }

    // MARK: - Statements

    /// Stamps the pending records, one statement per table (``tables``): ?1 the clock, ?2 the last
    /// sequence number issued, ?3 the push cursor. Each pending record gets the next sequence
    /// number, in id order within its table; its pending registers get the clock and that number,
    /// and so do its registers not yet pushed (sequence number above ?3), so that every register
    /// above the push cursor carries its record's number (SPEC.md §4). (A pending record stores
    /// every number it has: none is its record's while that is NULL.)
    private func makeStamp() -> [String] {
        let sets = registers.flatMap { n in
            [
                "h\(n) = CASE WHEN q\(n) = -1 THEN ?1 - coalesce(t, ?1) ELSE h\(n) END",
                "s\(n) = CASE WHEN q\(n) = -1 THEN 0 ELSE s\(n) END",
                "q\(n) = CASE WHEN q\(n) = -1 OR q\(n) > ?3 THEN NULL ELSE q\(n) END",
            ]
        }
        return tables.map { table in
            """
            WITH p AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM \(table) WHERE \(Self.pending))
            UPDATE \(table) SET seq = ?2 + p.n, t = coalesce(t, ?1), \(sets.joined(separator: ", "))
            FROM p WHERE \(table).id = p.id
            """
        }
    }

    /// Gives every stamped register with a sequence number above ?1 (the push cursor) its
    /// record's number: the rule ``stamp`` keeps, restored after the cursor moved back.
    private func makeCarryUnpushed() -> [String] { tables.map(carryUnpushed(in:)) }

    /// The same for one table holding register columns (a migration also runs it on the clock
    /// table of layouts 2 to 4).
    func carryUnpushed(in table: String) -> String {
        let sets = registers.map { "q\($0) = CASE WHEN q\($0) > ?1 THEN NULL ELSE q\($0) END" }
        return "UPDATE \(table) SET \(sets.joined(separator: ", ")) WHERE seq > ?1"
    }

    /// The columns of ``select(_:order:)``: id, cl, seq, t, then each register's h, s, b, q
    /// decoded (absolute clock or NULL, site, absolute base or 0, sequence number, -1 or NULL),
    /// then each synced field's value.
    var selectColumns: String {
        let regs = registers.flatMap { ["\(Self.clockOf($0, "c."))", "c.s\($0)", Self.baseOf($0, "c."), Self.seqOf($0, "c.")] }
        return (["c.id", "c.cl", "c.seq", "c.t"] + regs + fields.map { "c.\($0.name)" }).joined(separator: ", ")
    }

    /// Reads the records of both tables that meet `condition` (on the row `c`), with their
    /// registers and values, in `order` (a column of ``selectColumns``) when given.
    func select(_ condition: String, order: String? = nil) -> String {
        "SELECT \(selectColumns) FROM \(live) c WHERE \(condition) UNION ALL SELECT \(selectColumns) FROM \(gone) c WHERE \(condition)"
            + (order.map { " ORDER BY \($0)" } ?? "")
    }

    /// Reads the records of both tables that meet `condition` (on the row `c`) with their register
    /// columns as stored (``allRegisterColumns``: not decoded, so that a writer can tell which
    /// columns it changes) and their synced values: `id, cl, seq, t, h0, s0, b0, q0, …`, then the
    /// values (the column indexes are ``select(_:order:)``'s), then the rowid of a live record's
    /// row (NULL for a row of ``gone``) at ``liveRowidColumn``.
    func selectStored(_ condition: String) -> String {
        let columns = (["id"] + allRegisterColumns + fields.map(\.name)).map { "c.\($0)" }.joined(separator: ", ")
        return "SELECT \(columns), c.rowid FROM \(live) c WHERE \(condition) "
            + "UNION ALL SELECT \(columns), NULL FROM \(gone) c WHERE \(condition)"
    }

    /// Reads the live records whose ids are in the JSON array ?1 (of distinct ids) with only some registers: `id,
    /// cl, seq, t`, whether the row is ``settled(mark:)`` with ?2 as the push mark (1 or 0), the
    /// stored columns `h, s, b, q` of each register at `positions` (positions in ``registers``,
    /// ascending), the values of those that are fields, and the rowid. A settled row's other
    /// registers keep their columns when the record takes a new number (SPEC.md §4), so a writer
    /// that changes only the registers read here leaves them as they are.
    func selectNarrow(_ positions: [Int]) -> String {
        let registers = positions.flatMap { i in ["h", "s", "b", "q"].map { "c.\($0)\(self.registers[i])" } }
        let values = positions.filter { $0 > 0 }.map { "c.\(fields[$0 - 1].name)" }
        let columns = ["c.id", "c.cl", "c.seq", "c.t", "\(settled(mark: "?2"))"] + registers + values + ["c.rowid"]
        // A join from the array (not `IN`, which first copies the ids into a temporary index):
        // the rows come in the array's order.
        return "SELECT \(columns.joined(separator: ", ")) FROM json_each(?1) AS j JOIN \(live) c ON c.id = j.value"
    }

    /// Column index of the live row's rowid in ``selectStored(_:)``.
    var liveRowidColumn: Int32 { valueColumn(fields.count) }

    /// Column index of the reference clock `t` in ``select(_:order:)``.
    static let referenceColumn: Int32 = 3

    /// Column index of register `i` (its position in ``registers``): h, s, b, q follow.
    func registerColumn(_ i: Int) -> Int32 { Int32(4 + 4 * i) }

    /// Column index of the value of synced field `i` (its position in ``fields``).
    func valueColumn(_ i: Int) -> Int32 { Int32(4 + 4 * registers.count + i) }

    /// How many registers have a sequence number above ?1 (a record numbered above ?1 is not
    /// pending, so each of its registers with a clock has a number).
    private func makeCount() -> String {
        let sum = "coalesce(sum(" + registers.map { "(h\($0) IS NOT NULL AND coalesce(q\($0), seq) > ?1)" }.joined(separator: " + ") + "), 0)"
        return "SELECT (SELECT \(sum) FROM \(live) WHERE seq > ?1) + (SELECT \(sum) FROM \(gone) WHERE seq > ?1)"
    }

    // MARK: - Layouts 2 to 4

    /// The clock table of layouts 2 to 4, which migrations of older files still write.
    var legacyClockDDL: String {
        "CREATE TABLE \(legacyClock) (id TEXT PRIMARY KEY NOT NULL, \(registerDDL)) STRICT, WITHOUT ROWID;\n"
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
            INSERT INTO \(legacyClock) (id, cl, seq, t, \(registerColumns.joined(separator: ", ")))
            SELECT r.id, r.cl, r.seq, r.t, \(regs.joined(separator: ", "))
            FROM (SELECT o.*, coalesce(\(reference)) AS t FROM (\(source)) AS o) AS r
            """
    }
}
