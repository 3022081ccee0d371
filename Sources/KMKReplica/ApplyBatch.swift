import KMKModel
import KMKSync

/// What one batch of remote changes touched: each record's registers as stored (read once, with
/// its clock row, and kept current as the batch merges into them) and what its rows need when
/// the batch ends. A record is then written once: one clock row, and one INSERT, UPDATE or
/// DELETE of its domain row, however many of its fields the batch held. The merge itself is
/// unchanged: every change is still merged into its own register, in order, by SPEC.md §7's rules.
struct ApplyBatch {
    /// A register's columns as ``LogTable/select(_:)`` reads them (absolute, decoded): clock (nil
    /// while pending), site, base (0: none) and sequence number (-1 while pending).
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
        /// Whether the record had a clock row when the batch began.
        var hasClockRow = false
        /// The clock row's reference clock `t`, when it has one (``LogTable``).
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
        /// Whether the clock table has a row.
        let any: Statement
        /// The records whose ids are in the JSON array ?1.
        let selectIn: Statement
        let insertClock: Statement
        let updateClock: Statement
        let keep: Statement
        let insert: Statement
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
        let s = Statements(
            any: try db.cached("SELECT 1 FROM \(t.clock) LIMIT 1"),
            selectIn: try db.cached(t.select("WHERE c.id IN (SELECT value FROM json_each(?1))")),
            insertClock: try db.cached(t.insertClock), updateClock: try db.cached(t.updateClock), keep: try db.cached(t.keep),
            insert: try db.cached("INSERT INTO \(e.name) (" + (["id"] + e.fields.map(\.name)).joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: e.fields.count + 1).joined(separator: ", ") + ")"),
            delete: try db.cached("DELETE FROM \(e.name) WHERE id = ?"), unkeep: try db.cached("DELETE FROM \(t.gone) WHERE id = ?"))
        statements[e.number] = s
        return s
    }

    /// How many ids one read of registers takes (``load(_:table:replica:)``).
    static let idsPerRead = 10_000

    /// Finds the record of each change, in order, and reads the registers of those this replica
    /// knows: one query per entity and up to ``idsPerRead`` ids (a JSON array bound to
    /// ``LogTable/select(_:)``), none when the entity's clock table is empty (every record is then
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

    /// Fills a record's registers from its row of ``LogTable/select(_:)``. (Static: a method of
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
        record.hasClockRow = true
        record.reference = row.isNull(LogTable.referenceColumn) ? nil : row.int64(LogTable.referenceColumn)
    }

    /// Writes each record the batch wrote: its clock row, with the next sequence number after
    /// `lastSeq` for its written registers and for those not yet pushed (above `pushed`, SPEC.md
    /// §4); its domain row (deleted when it died, inserted whole when it came alive, otherwise the
    /// changed columns updated); and its kept values when it is not alive. Returns the last
    /// sequence number issued.
    mutating func writeRows(lastSeq: Int64, pushed: Int64, site: (String) throws -> Int64) throws -> Int64 {
        var seq = lastSeq
        var sites = SiteCache()
        for r in records where r.isWritten {
            seq += 1
            let st = try statements(r.table)
            try writeClock(r, r.hasClockRow ? st.updateClock : st.insertClock, seq: seq, pushed: pushed, sites: &sites, site: site)
            if r.alive {
                if r.revived {
                    if r.wasAlive { try st.delete.run { $0.bind(r.id, at: 1) } }
                    try insert(r, st.insert)
                } else if !r.changed.isEmpty {
                    try update(r)
                }
                // Values are kept only for a record with a clock row: a new record has none to drop.
                if !r.wasAlive, r.hasClockRow { try st.unkeep.run { $0.bind(r.id, at: 1) } }
            } else {
                if r.wasAlive { try st.delete.run { $0.bind(r.id, at: 1) } }
                try keep(r, st.keep)
            }
        }
        return seq
    }

    /// Writes a record's clock row in the encoding of ``LogTable``: clocks and bases relative to
    /// the row's reference clock (kept when it has one, else the lifecycle's or first register's
    /// clock), and a sequence number equal to the record's not stored.
    private func writeClock(_ r: Touched, _ write: Statement, seq: Int64, pushed: Int64, sites: inout SiteCache,
                            site: (String) throws -> Int64) throws {
        let t = r.table
        var pending = false
        var columns: [Stored?] = []
        columns.reserveCapacity(t.registers.count)
        for n in t.registers {
            if r.written[n], let state = r.registers[n] {
                columns.append(Stored(h: state.clock.int64, s: try sites.number(state.origin, site), b: state.base.int64, q: seq))
            } else if var old = r.stored[n] {
                if old.q > pushed { old.q = seq }
                if old.q < 0 { pending = true }
                columns.append(old)
            } else {
                columns.append(nil)
            }
        }
        let reference = r.reference ?? columns.lazy.compactMap { $0?.h }.first
            ?? columns.lazy.compactMap { $0.flatMap { $0.b == 0 ? nil : $0.b } }.first
        try write.run { st in
            st.bind(r.id, at: 1)
            st.bind(r.registers[0]?.causalLength ?? 0, at: 2)
            if pending { st.bindNull(at: 3) } else { st.bind(seq, at: 3) }
            if let reference { st.bind(reference, at: 4) } else { st.bindNull(at: 4) }
            for (i, column) in columns.enumerated() {
                let at = Int32(5 + 4 * i)
                guard let s = column, let reference else {
                    // Never written (or, with no reference, pending with no clock and no base).
                    st.bindNull(at: at)
                    st.bind(column?.s ?? 0, at: at + 1)
                    st.bindNull(at: at + 2)
                    if let q = column?.q { st.bind(q, at: at + 3) } else { st.bindNull(at: at + 3) }
                    continue
                }
                if let h = s.h { st.bind(h - reference, at: at) } else { st.bindNull(at: at) }
                st.bind(s.s, at: at + 1)
                if s.b == 0 { st.bindNull(at: at + 2) } else { st.bind(s.b - reference, at: at + 2) }
                if !pending, s.h != nil, s.q == seq { st.bindNull(at: at + 3) } else { st.bind(s.q, at: at + 3) }
            }
        }
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

    private func keep(_ r: Touched, _ keep: Statement) throws {
        try keep.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in r.table.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
        }
    }

    /// Inserts the row from the stored field values, null where none is stored (no column has a
    /// default, so this is the row the old per-record INSERT of the non-null fields made).
    private func insert(_ r: Touched, _ insert: Statement) throws {
        try insert.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in r.entity.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
        }
    }

    private mutating func update(_ r: Touched) throws {
        let e = r.entity
        let cols = r.changed.sorted()
        let key = UpdateKey(tbl: e.number, cols: cols)
        let st: Statement
        if let s = updates[key] {
            st = s
        } else {
            let names = cols.map { e.field(number: $0)!.name }
            st = try db.cached("UPDATE \(e.name) SET " + names.map { "\($0) = ?" }.joined(separator: ", ") + " WHERE id = ?")
            updates[key] = st
        }
        try st.run { st in
            for (i, c) in cols.enumerated() { st.bind(r.register(c)?.value ?? .null, at: Int32(i + 1)) }
            st.bind(r.id, at: Int32(cols.count + 1))
        }
    }
}
