import KMKModel
import KMKSync

/// What one batch of remote changes touched: each record's registers as stored (read once, with
/// its row, and kept current as the batch merges into them) and what its row needs when the
/// batch ends. A record is then written once: its row with its registers (moved between the
/// entity's table and `gone` when it died or came alive), however many of its fields the batch
/// held. The merge itself is unchanged: every change is still merged into its own register, in
/// order, by SPEC.md §7's rules.
struct ApplyBatch {
    /// A register's columns as ``LogTable/select(_:order:)`` reads them (absolute, decoded): clock
    /// (nil while pending), site, base (0: none) and sequence number (-1 while pending).
    struct Stored {
        var h: Int64?
        var s: Int64
        var b: Int64
        var q: Int64
    }

    struct Touched {
        let table: LogTable
        let id: String
        /// Registers by number (0: the lifecycle); nil where none is stored.
        var registers: [RegisterState?]
        /// The stored columns of each register, by number; nil where none is stored.
        var stored: [Stored?]
        /// Which registers the batch wrote, by number.
        var written: [Bool]
        /// Whether the domain row existed when the batch began.
        var wasAlive: Bool
        /// Whether the record had a row (in either table) when the batch began.
        var hasRow = false
        /// The row's reference clock `t`, when it has one (``LogTable``).
        var reference: Int64?
        /// Whether the record came alive in this batch: its row is then written whole from its registers.
        var revived = false
        /// Columns written while the record was alive (and not revived): updated in place.
        var changed: [Int] = []

        var entity: EntitySpec { table.entity }
        var alive: Bool { (registers[0]?.causalLength ?? 0) % 2 == 1 }
        var isWritten: Bool { written.contains(true) }

        func register(_ col: Int) -> RegisterState? { col < registers.count ? registers[col] : nil }

        mutating func setRegister(_ col: Int, _ s: RegisterState) {
            registers[col] = s
            written[col] = true
        }

        mutating func noteChanged(_ col: Int) {
            if !revived, !changed.contains(col) { changed.append(col) }
        }

        /// The field registers (number > 0), by number.
        var fieldRegisters: [(Int, RegisterState)] {
            registers.indices.dropFirst().compactMap { c in registers[c].map { (c, $0) } }
        }
    }

    private struct Key: Hashable {
        let tbl: Int
        let id: String
    }

    private struct UpdateKey: Hashable {
        let tbl: Int
        let cols: [Int]
    }

    /// One entity's prepared statements, looked up once per batch (not by their SQL per record).
    private struct Statements {
        /// Whether the entity has a record (a row in either table).
        let any: Statement
        /// The records whose ids are in the JSON array ?1.
        let selectIn: Statement
        /// A live record's whole row with its registers: the id, every field, then the registers.
        let insert: Statement
        /// A record that is not alive: the id, its synced values, then the registers.
        let keep: Statement
        let delete: Statement
        let unkeep: Statement
    }

    let db: Database
    private var index: [Key: Int] = [:]
    var records: [Touched] = []
    private var updates: [UpdateKey: Statement] = [:]
    private var statements: [Int: Statements] = [:]

    init(_ db: Database) {
        self.db = db
    }

    private mutating func statements(_ t: LogTable) throws -> Statements {
        if let s = statements[t.entity.number] { return s }
        let e = t.entity
        let registers = t.allRegisterColumns
        func insert(_ verb: String, _ table: String, _ columns: [String]) -> String {
            "\(verb) INTO \(table) (" + columns.joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        }
        let s = Statements(
            any: try db.cached("SELECT 1 WHERE EXISTS (SELECT 1 FROM \(t.live)) OR EXISTS (SELECT 1 FROM \(t.gone))"),
            selectIn: try db.cached(t.select("c.id IN (SELECT value FROM json_each(?1))")),
            insert: try db.cached(insert("INSERT", t.live, ["id"] + e.fields.map(\.name) + registers)),
            keep: try db.cached(insert("INSERT OR REPLACE", t.gone, ["id"] + t.fields.map(\.name) + registers)),
            delete: try db.cached("DELETE FROM \(t.live) WHERE id = ?"), unkeep: try db.cached("DELETE FROM \(t.gone) WHERE id = ?"))
        statements[e.number] = s
        return s
    }

    /// How many ids one read of registers takes (``load(_:table:replica:)``).
    static let idsPerRead = 10_000

    /// Finds the record of each change, in order, and reads the registers of those this replica
    /// knows: one query per entity and up to ``idsPerRead`` ids (a JSON array bound to
    /// ``LogTable/select(_:order:)``), none when the entity has no record at all (every record is then
    /// new). A record not found has no registers. Records are kept in the order the changes first
    /// name them. Returns, for each change, its record's position in ``records``.
    mutating func load(_ changes: [Change], table: (String) -> LogTable, replica: Replica) throws -> [Int] {
        var at: [Int] = []
        at.reserveCapacity(changes.count)
        var unread: [Int: [Int]] = [:]
        var last: (table: LogTable, r: Int)?
        for c in changes {
            // Consecutive changes to one record (the usual order) skip the hashing.
            if let l = last, l.table.entity.name == c.entity, records[l.r].id == c.id {
                at.append(l.r)
                continue
            }
            let t = last.flatMap { $0.table.entity.name == c.entity ? $0.table : nil } ?? table(c.entity)
            let key = Key(tbl: t.entity.number, id: c.id)
            let r: Int
            if let i = index[key] {
                r = i
            } else {
                r = records.count
                let size = (t.registers.max() ?? 0) + 1
                records.append(Touched(table: t, id: c.id, registers: Array(repeating: nil, count: size),
                                       stored: Array(repeating: nil, count: size), written: Array(repeating: false, count: size),
                                       wasAlive: false))
                index[key] = r
                unread[t.entity.number, default: []].append(r)
            }
            last = (t, r)
            at.append(r)
        }
        for (_, positions) in unread.sorted(by: { $0.key < $1.key }) {
            let t = records[positions[0]].table
            let st = try statements(t)
            guard try st.any.first([], { _ in true }) ?? false else { continue }
            var from = 0
            while from < positions.count {
                let part = positions[from..<min(from + Self.idsPerRead, positions.count)]
                from = part.endIndex
                let json = LogTable.idArray(part.map { records[$0].id })
                try st.selectIn.each(binding: { $0.bind(json, at: 1) }) { row in
                    guard let id = row.text(0), let r = index[Key(tbl: t.entity.number, id: id)] else { return }
                    Self.read(row, into: &records[r], replica: replica)
                }
            }
        }
        return at
    }

    /// Fills a record's registers from its row of ``LogTable/select(_:order:)``. (Static: a method of
    /// the batch given one of its records inout would copy ``records`` for every row.)
    private static func read(_ row: Statement, into record: inout Touched, replica: Replica) {
        let t = record.table
        for (i, n) in t.registers.enumerated() {
            let c = t.registerColumn(i)
            guard !row.isNull(c + 3) else { continue }
            let s = Stored(h: row.isNull(c) ? nil : row.int64(c), s: row.int64(c + 1), b: row.int64(c + 2), q: row.int64(c + 3))
            record.stored[n] = s
            record.registers[n] = RegisterState(value: n == 0 ? .integer(row.int64(1)) : row.value(t.valueColumn(i - 1)),
                                                clock: HLC(int64: s.h ?? 0), origin: replica.siteID(s.s), base: HLC(int64: s.b))
        }
        record.wasAlive = record.alive
        record.hasRow = true
        record.reference = row.isNull(LogTable.referenceColumn) ? nil : row.int64(LogTable.referenceColumn)
    }

    /// Writes each record the batch wrote, with the next sequence number after `lastSeq` for its
    /// written registers and for those not yet pushed (above `pushed`, SPEC.md §4): a live
    /// record's row (inserted whole when it came alive, otherwise its changed columns and its
    /// registers updated), or a record's row in `gone` when it is not alive (its row in the
    /// entity's table deleted when it died). Returns the last sequence number issued.
    mutating func writeRows(lastSeq: Int64, pushed: Int64, site: (String) throws -> Int64) throws -> Int64 {
        var seq = lastSeq
        var sites = SiteCache()
        for r in records where r.isWritten {
            seq += 1
            let st = try statements(r.table)
            let registers = try encode(r, seq: seq, pushed: pushed, sites: &sites, site: site)
            if r.alive {
                if r.revived {
                    if r.wasAlive { try st.delete.run { $0.bind(r.id, at: 1) } }
                    try insert(r, st.insert, registers)
                    // A record that was not alive had a row in `gone` if it had registers at all.
                    if !r.wasAlive, r.hasRow { try st.unkeep.run { $0.bind(r.id, at: 1) } }
                } else {
                    try update(r, registers)
                }
            } else {
                if r.wasAlive { try st.delete.run { $0.bind(r.id, at: 1) } }
                try keep(r, st.keep, registers)
            }
        }
        return seq
    }

    /// A record's register columns (``LogTable/allRegisterColumns``) as they are bound.
    struct Encoded {
        var cl: Int64
        /// nil while something in the row is pending.
        var seq: Int64?
        var reference: Int64?
        /// h, s, b, q of each register in ``LogTable/registers`` order, nil for NULL.
        var columns: [Int64?]

        func bind(to st: Statement, from first: Int32) {
            st.bind(cl, at: first)
            if let seq { st.bind(seq, at: first + 1) } else { st.bindNull(at: first + 1) }
            if let reference { st.bind(reference, at: first + 2) } else { st.bindNull(at: first + 2) }
            for (i, c) in columns.enumerated() {
                if let c { st.bind(c, at: first + 3 + Int32(i)) } else { st.bindNull(at: first + 3 + Int32(i)) }
            }
        }
    }

    /// Encodes a record's registers as ``LogTable`` stores them: clocks and bases relative to the
    /// row's reference clock (kept when it has one, else the lifecycle's or first register's
    /// clock), and a sequence number equal to the record's not stored.
    private func encode(_ r: Touched, seq: Int64, pushed: Int64, sites: inout SiteCache,
                        site: (String) throws -> Int64) throws -> Encoded {
        let t = r.table
        var pending = false
        var stored: [Stored?] = []
        stored.reserveCapacity(t.registers.count)
        for n in t.registers {
            if r.written[n], let state = r.registers[n] {
                stored.append(Stored(h: state.clock.int64, s: try sites.number(state.origin, site), b: state.base.int64, q: seq))
            } else if var old = r.stored[n] {
                if old.q > pushed { old.q = seq }
                if old.q < 0 { pending = true }
                stored.append(old)
            } else {
                stored.append(nil)
            }
        }
        let reference = r.reference ?? stored.lazy.compactMap { $0?.h }.first
            ?? stored.lazy.compactMap { $0.flatMap { $0.b == 0 ? nil : $0.b } }.first
        var columns: [Int64?] = []
        columns.reserveCapacity(4 * stored.count)
        for column in stored {
            guard let s = column, let reference else {
                // Never written (or, with no reference, pending with no clock and no base).
                columns += [nil, column?.s ?? 0, nil, column?.q]
                continue
            }
            columns.append(s.h.map { $0 - reference })
            columns.append(s.s)
            columns.append(s.b == 0 ? nil : s.b - reference)
            columns.append(!pending && s.h != nil && s.q == seq ? nil : s.q)
        }
        return Encoded(cl: r.registers[0]?.causalLength ?? 0, seq: pending ? nil : seq, reference: reference, columns: columns)
    }

    /// Site numbers by origin, remembering the last one looked up (a batch usually holds few origins).
    struct SiteCache {
        var last: (origin: String, site: Int64)?

        mutating func number(_ origin: String, _ lookUp: (String) throws -> Int64) throws -> Int64 {
            if let l = last, l.origin == origin { return l.site }
            let n = try lookUp(origin)
            last = (origin, n)
            return n
        }
    }

    /// Writes the row of a record that is not alive: its synced values and registers.
    private func keep(_ r: Touched, _ keep: Statement, _ registers: Encoded) throws {
        try keep.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in r.table.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
            registers.bind(to: st, from: Int32(r.table.fields.count + 2))
        }
    }

    /// Inserts the row from the stored field values, null where none is stored (no column has a
    /// default, so this is the row the old per-record INSERT of the non-null fields made), with
    /// its registers.
    private func insert(_ r: Touched, _ insert: Statement, _ registers: Encoded) throws {
        try insert.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in r.entity.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
            registers.bind(to: st, from: Int32(r.entity.fields.count + 2))
        }
    }

    /// Updates a live record's changed columns and its registers.
    private mutating func update(_ r: Touched, _ registers: Encoded) throws {
        let e = r.entity
        let cols = r.changed.sorted()
        let key = UpdateKey(tbl: e.number, cols: cols)
        let st: Statement
        if let s = updates[key] {
            st = s
        } else {
            let names = cols.map { e.field(number: $0)!.name } + r.table.allRegisterColumns
            st = try db.cached("UPDATE \(r.table.live) SET " + names.map { "\($0) = ?" }.joined(separator: ", ") + " WHERE id = ?")
            updates[key] = st
        }
        try st.run { st in
            for (i, c) in cols.enumerated() { st.bind(r.register(c)?.value ?? .null, at: Int32(i + 1)) }
            registers.bind(to: st, from: Int32(cols.count + 1))
            st.bind(r.id, at: Int32(cols.count + 1 + 3 + registers.columns.count))
        }
    }
}
