import KMKModel
import KMKSync

/// What one batch of remote changes touched: each record's registers as stored (read once, with
/// its row, and kept current as the batch merges into them) and what its row needs when the
/// batch ends. A record is then written once: its row with its registers (moved between the
/// entity's table and `gone` when it died or came alive), however many of its fields the batch
/// held. The merge itself is unchanged: every change is still merged into its own register, in
/// order, by SPEC.md §7's rules.
struct ApplyBatch {
    struct Touched {
        /// The record's entity, as its position in ``ApplyBatch/tables``.
        let table: Int
        let id: String
        /// Registers by number (0: the lifecycle); nil where none is stored.
        var registers: [RegisterState?]
        /// Which registers the batch wrote, by number.
        var written: [Bool]
        /// The record's row (in either table) when the batch began; nil when it had none.
        var row: RegisterRow?
        /// Whether the domain row existed when the batch began.
        var wasAlive: Bool
        /// Whether the record came alive in this batch: its row is then written whole from its registers.
        var revived = false
        /// Columns written while the record was alive (and not revived): updated in place.
        var changed: [Int] = []
        /// The registers the batch's changes name (bit n: register n), and whether the record
        /// needs all its registers read: a lifecycle change (a delete or a re-creation writes every
        /// field's value) or a register number the mask cannot hold.
        var named: UInt64 = 0
        var needsAll = false

        var hasRow: Bool { row != nil }
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

    /// The shape of an in-place update: the fields written (by number), and which of the row's
    /// register columns change.
    private struct UpdateKey: Hashable {
        let tbl: Int
        let fields: [Int]
        /// Bits 0, 1, 2: `cl`, `t`, `pend` (`seq` and `regs` are always written).
        let rowColumns: UInt8
        /// Whether the row is found by its rowid (read with it) or by its id.
        let byRowid: Bool
    }

    /// One entity's prepared statements, looked up once per batch (not by their SQL per record).
    private struct Statements {
        /// Whether the entity has a record (a row in either table).
        let any: Statement
        /// The records whose ids are in the JSON array ?1, with their register columns as stored.
        let select: Statement
        /// A live record's whole row with its registers: the id, every field, then the registers.
        let insert: Statement
        /// A record that is not alive: the id, its synced values, then the registers.
        let keep: Statement
        let delete: Statement
        let unkeep: Statement
    }

    let db: Database
    /// The entities the batch touches (their change-log tables), in the order first touched.
    private(set) var tables: [LogTable] = []
    private var tableIndex: [String: Int] = [:]
    private var index: [Key: Int] = [:]
    var records: [Touched] = []
    private var updates: [UpdateKey: Statement] = [:]
    private var statements: [Int: Statements] = [:]
    /// A scratch buffer for the `regs` blob of the record being written.
    private var blob: [UInt8] = []

    init(_ db: Database) {
        self.db = db
    }

    /// The entity of the record at `r` in ``records``.
    func entity(_ r: Int) -> EntitySpec { tables[records[r].table].entity }

    private mutating func statements(_ t: LogTable) throws -> Statements {
        if let s = statements[t.entity.number] { return s }
        let e = t.entity
        let registers = LogTable.storedRegisterColumns
        func insert(_ verb: String, _ table: String, _ columns: [String]) -> String {
            "\(verb) INTO \(table) (" + columns.joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        }
        let s = Statements(
            any: try db.cached("SELECT 1 WHERE EXISTS (SELECT 1 FROM \(t.live)) OR EXISTS (SELECT 1 FROM \(t.gone))"),
            select: try db.cached(t.selectForApply),
            insert: try db.cached(insert("INSERT", t.live, ["id"] + e.fields.map(\.name) + registers)),
            keep: try db.cached(insert("INSERT OR REPLACE", t.gone, ["id"] + t.fields.map(\.name) + registers)),
            delete: try db.cached("DELETE FROM \(t.live) WHERE id = ?"), unkeep: try db.cached("DELETE FROM \(t.gone) WHERE id = ?"))
        statements[e.number] = s
        return s
    }

    /// How many ids one read of registers takes (``load(_:table:replica:)``).
    static let idsPerRead = 10_000

    /// Finds the record of each change, in order, and reads the registers of those this replica
    /// knows: per entity and up to ``idsPerRead`` ids (a JSON array, ``LogTable/selectForApply``);
    /// none when the entity has no record at all (every record is then new). A record not found has no registers. Records are kept in the order the changes
    /// first name them. `registers` holds each change's register number. Returns, for each
    /// change, its record's position in ``records``.
    mutating func load(_ changes: [Change], registers: [Int], table: (String) -> LogTable, replica: Replica) throws -> [Int] {
        var at: [Int] = []
        at.reserveCapacity(changes.count)
        // Room for a record per run of changes to one record (at least as many as there are
        // records), so that the index is not rehashed as it grows.
        var runs = 0
        for k in changes.indices where k == 0 || changes[k].id != changes[k - 1].id || changes[k].entity != changes[k - 1].entity {
            runs += 1
        }
        index.reserveCapacity(runs)
        records.reserveCapacity(runs)
        var unread: [Int: [Int]] = [:]
        var last: (entity: String, tbl: Int, r: Int)?
        for (k, c) in changes.enumerated() {
            defer { Self.name(registers[k], in: &records[at[k]]) }
            // Consecutive changes to one record (the usual order) skip the hashing.
            if let l = last, l.entity == c.entity, records[l.r].id == c.id {
                at.append(l.r)
                continue
            }
            let tbl: Int
            if let l = last, l.entity == c.entity {
                tbl = l.tbl
            } else if let i = tableIndex[c.entity] {
                tbl = i
            } else {
                tbl = tables.count
                tables.append(table(c.entity))
                tableIndex[c.entity] = tbl
            }
            let key = Key(tbl: tbl, id: c.id)
            var r = records.count
            // One hash for a record not seen before (the usual case); a known one is put back.
            if let known = index.updateValue(r, forKey: key) {
                index[key] = known
                r = known
            } else {
                let size = (tables[tbl].registers.max() ?? 0) + 1
                records.append(Touched(table: tbl, id: c.id, registers: Array(repeating: nil, count: size),
                                       written: Array(repeating: false, count: size), wasAlive: false))
                unread[tbl, default: []].append(r)
            }
            last = (c.entity, tbl, r)
            at.append(r)
        }
        for (tbl, positions) in unread.sorted(by: { $0.key < $1.key }) {
            let t = tables[tbl]
            let st = try statements(t)
            guard try st.any.first([], { _ in true }) ?? false else { continue }
            try Self.read(positions, ids: positions.map { records[$0].id }, tbl, index, st.select) { row, r in
                try Self.read(row, t, into: &records[r], replica: replica)
            }
        }
        return at
    }

    /// Runs `select` over the `ids` of the records at `positions` (of entity `tbl`, found in
    /// `index`), up to ``idsPerRead`` at a time as a JSON array in ?1, and hands each row with its
    /// record's position to `body`. (Static, so that `body` may change the batch's records.)
    private static func read(_ positions: [Int], ids: [String], _ tbl: Int, _ index: [Key: Int], _ select: Statement,
                             _ body: (Statement, Int) throws -> Void) throws {
        var from = 0
        while from < positions.count {
            let part = from..<min(from + idsPerRead, positions.count)
            from = part.endIndex
            let json = LogTable.idArray(ids[part])
            // Rows usually come in the array's order, missing ids left out: each is first
            // compared with the next few ids asked for, and looked up only when none matches.
            var next = part.startIndex
            try select.each(binding: { s in s.bind(json, at: 1) }) { row in
                guard let id = row.text(0) else { return }
                var found: Int?
                for k in next..<min(next + 4, part.endIndex) where ids[k] == id {
                    found = positions[k]
                    next = k + 1
                    break
                }
                guard let r = found ?? index[Key(tbl: tbl, id: id)] else { return }
                try body(row, r)
            }
        }
    }

    /// Notes that a change names register `n` of a record (``Touched/named``).
    private static func name(_ n: Int, in record: inout Touched) {
        if n == 0 || n >= 64 { record.needsAll = true } else { record.named |= 1 << UInt64(n) }
    }

    /// Fills a record's registers from its row of ``LogTable/selectForApply``: the stored state of
    /// all (``RegisterRow``), and the state (value, clock, origin, base) of the lifecycle and of
    /// those the batch's changes name. A record that needs all (``Touched/needsAll``) or is not
    /// alive (a change to it is kept with every value) gets every register's state; for the
    /// others the merge reads no other register, and their row is updated in place. (Static: a
    /// method of the batch given one of its records inout would copy ``records`` for every row.)
    private static func read(_ row: Statement, _ t: LogTable, into record: inout Touched, replica: Replica) throws {
        guard let stored = row.registerRow(at: LogTable.registerColumn, count: t.registers.count,
                                           liveRowid: row.optionalInt64(t.liveRowidColumn)) else {
            throw ReplicaError.damagedRegisters(replica.path, t.entity.name, record.id)
        }
        let all = record.needsAll || stored.cl % 2 == 0
        for (i, n) in t.registers.enumerated() where all || n == 0 || record.named & (1 << UInt64(n)) != 0 {
            guard let state = stored.state(i, value: n == 0 ? .integer(stored.cl) : row.value(t.valueColumn(i - 1)), replica: replica)
            else { continue }
            record.registers[n] = state
        }
        record.row = stored
        record.wasAlive = record.alive
    }

    /// Writes each record the batch wrote, with the next sequence number after `lastSeq` for its
    /// written registers and for those not yet pushed (above `pushed`, SPEC.md §4): a live
    /// record's row (inserted whole when it came alive, otherwise its changed columns and those
    /// of its registers that change updated), or a record's row in `gone` when it is not alive
    /// (its row in the entity's table deleted when it died). Returns the last sequence number issued.
    mutating func writeRows(lastSeq: Int64, pushed: Int64, site: (String) throws -> Int64) throws -> Int64 {
        var seq = lastSeq
        var sites = SiteCache()
        for r in records.indices where records[r].isWritten {
            seq += 1
            let t = tables[records[r].table]
            let st = try statements(t)
            let registers = try encode(records[r], t, seq: seq, pushed: pushed, sites: &sites, site: site)
            let id = records[r].id
            if records[r].alive {
                if records[r].revived {
                    if records[r].wasAlive { try st.delete.run { $0.bind(id, at: 1) } }
                    try insert(records[r], t, st.insert, registers)
                    // A record that was not alive had a row in `gone` if it had registers at all.
                    if !records[r].wasAlive, records[r].hasRow { try st.unkeep.run { $0.bind(id, at: 1) } }
                } else {
                    try update(r, t, registers)
                }
            } else {
                if records[r].wasAlive { try st.delete.run { $0.bind(id, at: 1) } }
                try keep(records[r], t, st.keep, registers)
            }
        }
        return seq
    }

    /// A record's register columns as they are bound: `cl, seq, t, pend`, then `regs` from ``blob``.
    struct Encoded {
        var cl: Int64
        /// nil while something in the row is pending.
        var seq: Int64?
        var reference: Int64?
        var pend: Int64
    }

    /// Binds `e`'s columns (``LogTable/storedRegisterColumns``) from parameter `first` on.
    private func bind(_ e: Encoded, to st: Statement, from first: Int32) {
        st.bind(e.cl, at: first)
        Self.bind(e.seq, to: st, at: first + 1)
        Self.bind(e.reference, to: st, at: first + 2)
        st.bind(e.pend, at: first + 3)
        st.bind(blob: blob, at: first + 4)
    }

    static func bind(_ v: Int64?, to st: Statement, at k: Int32) {
        if let v { st.bind(v, at: k) } else { st.bindNull(at: k) }
    }

    /// Encodes a record's registers as ``LogTable`` stores them (into ``blob``): clocks and bases
    /// relative to the row's reference clock (kept when it has one, else the lifecycle's or first
    /// register's clock), a sequence number equal to the record's not stored, and a pending
    /// register (one the record had, not written by the batch) as its bit of `pend`.
    private mutating func encode(_ r: Touched, _ t: LogTable, seq: Int64, pushed: Int64, sites: inout SiteCache,
                                 site: (String) throws -> Int64) throws -> Encoded {
        var pending = false
        var decoded: [RegisterRow.Decoded?] = []
        decoded.reserveCapacity(t.registers.count)
        for (i, n) in t.registers.enumerated() {
            if r.written[n], let state = r.registers[n] {
                decoded.append(RegisterRow.Decoded(h: state.clock.int64, s: try sites.number(state.origin, site), b: state.base.int64, q: seq))
            } else if var old = r.row?.decoded(i) {
                if old.q > pushed { old.q = seq }
                if old.q < 0 { pending = true }
                decoded.append(old)
            } else {
                decoded.append(nil)
            }
        }
        let reference = r.row?.t ?? decoded.lazy.compactMap { $0?.h }.first
            ?? decoded.lazy.compactMap { $0.flatMap { $0.b == 0 ? nil : $0.b } }.first
        var registers: [StoredRegister] = []
        registers.reserveCapacity(decoded.count)
        for register in decoded {
            guard let d = register, let reference else {
                // Never written (or, with no reference, pending with no clock and no base).
                registers.append(StoredRegister(h: nil, s: register?.s ?? 0, b: nil, q: register?.q))
                continue
            }
            registers.append(StoredRegister(h: d.h.map { $0 - reference }, s: d.s, b: d.b == 0 ? nil : d.b - reference,
                                    q: !pending && d.h != nil && d.q == seq ? nil : d.q))
        }
        let row = RegisterRow(cl: r.registers[0]?.causalLength ?? 0, seq: pending ? nil : seq, t: reference, registers: registers)
        let pend = row.storedColumns(into: &blob)
        return Encoded(cl: row.cl, seq: row.seq, reference: reference, pend: pend)
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
    private func keep(_ r: Touched, _ t: LogTable, _ keep: Statement, _ registers: Encoded) throws {
        try keep.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in t.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
            bind(registers, to: st, from: Int32(t.fields.count + 2))
        }
    }

    /// Inserts the row from the stored field values, null where none is stored (no column has a
    /// default, so this is the row the old per-record INSERT of the non-null fields made), with
    /// its registers.
    private func insert(_ r: Touched, _ t: LogTable, _ insert: Statement, _ registers: Encoded) throws {
        try insert.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in t.entity.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
            bind(registers, to: st, from: Int32(t.entity.fields.count + 2))
        }
    }

    /// Updates a live record's changed columns, its `seq` and `regs`, and those of its other
    /// register columns that differ from the row's, finding the row by the rowid it was read with.
    private mutating func update(_ r: Int, _ t: LogTable, _ registers: Encoded) throws {
        let record = records[r]
        let cols = record.changed.sorted()
        let old = record.row
        var rowColumns: UInt8 = 0
        if old?.cl != registers.cl { rowColumns |= 1 }
        if old?.t != registers.reference { rowColumns |= 2 }
        if old == nil || old!.seq == nil || registers.pend != 0 { rowColumns |= 4 }
        let rowid = old?.liveRowid
        let key = UpdateKey(tbl: record.table, fields: cols, rowColumns: rowColumns, byRowid: rowid != nil)
        let st: Statement
        if let s = updates[key] {
            st = s
        } else {
            var names = cols.map { t.entity.field(number: $0)!.name } + ["seq", "regs"]
            for (bit, name) in ["cl", "t", "pend"].enumerated() where rowColumns & (1 << bit) != 0 { names.append(name) }
            st = try db.cached("UPDATE \(t.live) SET " + names.map { "\($0) = ?" }.joined(separator: ", ")
                + (rowid != nil ? " WHERE rowid = ?" : " WHERE id = ?"))
            updates[key] = st
        }
        try st.run { st in
            var k: Int32 = 1
            for c in cols {
                st.bind(record.register(c)?.value ?? .null, at: k)
                k += 1
            }
            Self.bind(registers.seq, to: st, at: k)
            st.bind(blob: blob, at: k + 1)
            k += 2
            if rowColumns & 1 != 0 { st.bind(registers.cl, at: k); k += 1 }
            if rowColumns & 2 != 0 { Self.bind(registers.reference, to: st, at: k); k += 1 }
            if rowColumns & 4 != 0 { st.bind(registers.pend, at: k); k += 1 }
            if let rowid { st.bind(rowid, at: k) } else { st.bind(record.id, at: k) }
        }
    }
}

extension RegisterRow {
    /// Register `i`'s state with `value`, nil when it was never written (``decoded(_:)``).
    func state(_ i: Int, value: Value, replica: Replica) -> RegisterState? {
        guard let d = decoded(i) else { return nil }
        return RegisterState(value: value, clock: HLC(int64: d.h ?? 0), origin: replica.siteID(d.s), base: HLC(int64: d.b))
    }
}
