import KMKModel
import KMKSync

/// What one batch of remote changes touched: each record's registers as stored (read once, with
/// its row, and kept current as the batch merges into them) and what its row needs when the
/// batch ends. A record is then written once: its row with its registers (moved between the
/// entity's table and `gone` when it died or came alive), however many of its fields the batch
/// held. The merge itself is unchanged: every change is still merged into its own register, in
/// order, by SPEC.md §7's rules.
struct ApplyBatch {
    /// A register's four columns as the row stores them (``LogTable``): clock and base relative
    /// to the row's reference clock `t`, the origin's site number, and the sequence number (nil
    /// where it is the record's).
    struct Stored: Equatable {
        var h: Int64?
        var s: Int64
        var b: Int64?
        var q: Int64?
    }

    /// A register's columns decoded (what ``LogTable/select(_:order:)`` reads): the clock (nil
    /// while pending), the site, the base (0: none) and the sequence number (-1 while pending).
    struct Decoded {
        var h: Int64?
        var s: Int64
        var b: Int64
        var q: Int64
    }

    /// A record's row as it was when the batch began: its register columns as stored.
    struct StoredRow {
        var cl: Int64
        /// nil while something in the row is pending.
        var seq: Int64?
        /// The reference clock, nil until the row is first clocked.
        var t: Int64?
        /// Each register's columns, in ``LogTable/registers`` order.
        var registers: [Stored]
        /// The rowid of a live record's row in the entity's table; nil for a row of `gone`.
        var liveRowid: Int64?
        /// The registers read (bit i: position i in ``LogTable/registers``), all of them unless
        /// the row was read narrowly (``LogTable/selectNarrow(_:)``): a settled live row, whose
        /// other registers' columns stay as they are when the record is written.
        var known: UInt64 = .max

        func knows(_ i: Int) -> Bool { known == .max || (i < 64 && known & (1 << UInt64(i)) != 0) }

        /// Register `i`'s state with `value`, nil when it was never written (``decoded(_:)``).
        func state(_ i: Int, value: Value, replica: Replica) -> RegisterState? {
            guard let d = decoded(i) else { return nil }
            return RegisterState(value: value, clock: HLC(int64: d.h ?? 0), origin: replica.siteID(d.s), base: HLC(int64: d.b))
        }

        /// Register `i` (its position in ``LogTable/registers``) decoded, nil when it was never
        /// written: the rules of ``LogTable/clockOf(_:_:)``, ``LogTable/baseOf(_:_:)`` and
        /// ``LogTable/seqOf(_:_:)``.
        func decoded(_ i: Int) -> Decoded? {
            let c = registers[i]
            let q: Int64? = c.h == nil ? c.q : (c.q ?? seq)
            guard let q else { return nil }
            let h = t.flatMap { t in c.h.map { t + $0 } }
            let b = t.flatMap { t in c.b.map { t + $0 } } ?? 0
            return Decoded(h: h, s: c.s, b: b, q: q)
        }
    }

    struct Touched {
        /// The record's entity, as its position in ``ApplyBatch/tables``.
        let table: Int
        let id: String
        /// Registers by number (0: the lifecycle); nil where none is stored.
        var registers: [RegisterState?]
        /// Which registers the batch wrote, by number.
        var written: [Bool]
        /// The record's row (in either table) when the batch began; nil when it had none.
        var row: StoredRow?
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

    /// The shape of an in-place update: the fields written (by number), and the row columns and
    /// registers (by position in ``LogTable/registers``) whose stored columns change.
    private struct UpdateKey: Hashable {
        let tbl: Int
        let fields: [Int]
        /// Bits 0, 1, 2: `cl`, `seq`, `t`.
        let rowColumns: UInt8
        /// One bit per register position; all registers when the entity has more than 64.
        let registers: UInt64
        /// Whether the row is found by its rowid (read with it) or by its id.
        let byRowid: Bool
    }

    /// One entity's prepared statements, looked up once per batch (not by their SQL per record).
    private struct Statements {
        /// Whether the entity has a record (a row in either table).
        let any: Statement
        /// The records whose ids are in the JSON array ?1, with their register columns as stored.
        let selectIn: Statement
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
    /// The push mark: a narrow read (``LogTable/selectNarrow(_:)``) needs it for `settled`.
    private let pushed: Int64

    init(_ db: Database, pushed: Int64) {
        self.db = db
        self.pushed = pushed
    }

    /// The entity of the record at `r` in ``records``.
    func entity(_ r: Int) -> EntitySpec { tables[records[r].table].entity }

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
            selectIn: try db.cached(t.selectStored("c.id IN (SELECT value FROM json_each(?1))")),
            insert: try db.cached(insert("INSERT", t.live, ["id"] + e.fields.map(\.name) + registers)),
            keep: try db.cached(insert("INSERT OR REPLACE", t.gone, ["id"] + t.fields.map(\.name) + registers)),
            delete: try db.cached("DELETE FROM \(t.live) WHERE id = ?"), unkeep: try db.cached("DELETE FROM \(t.gone) WHERE id = ?"))
        statements[e.number] = s
        return s
    }

    /// How many ids one read of registers takes (``load(_:table:replica:)``).
    static let idsPerRead = 10_000

    /// Finds the record of each change, in order, and reads the registers of those this replica
    /// knows: per entity and up to ``idsPerRead`` ids (a JSON array), first the settled live rows
    /// with only the registers the batch names (``LogTable/selectNarrow(_:)``), then the others
    /// whole (``LogTable/selectStored(_:)``); none when the entity has no record at all (every
    /// record is then new). A record not found has no registers. Records are kept in the order the changes
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
            var full = positions
            // The registers the records name (with the lifecycle), when that is fewer than all:
            // the live rows are read with those alone, and a record that needs all, is not
            // alive, is not settled or was not found is read whole after.
            var named: UInt64 = 1
            for r in positions where !records[r].needsAll { named |= records[r].named }
            let narrow = t.registers.count <= 64 ? t.registers.indices.filter { named & (1 << UInt64(t.registers[$0])) != 0 } : []
            if !narrow.isEmpty, narrow.count < t.registers.count {
                let select = try db.cached(t.selectNarrow(narrow))
                let candidates = positions.filter { !records[$0].needsAll }
                var done = [Bool](repeating: false, count: records.count)
                try Self.read(candidates, ids: candidates.map { records[$0].id }, tbl, index, select, pushed: pushed) { row, r in
                    guard row.int64(1) % 2 == 1, row.int64(4) == 1 else { return }
                    Self.read(narrow: row, narrow, t, into: &records[r], replica: replica)
                    done[r] = true
                }
                full = positions.filter { !done[$0] }
            }
            try Self.read(full, ids: full.map { records[$0].id }, tbl, index, st.selectIn, pushed: nil) { row, r in
                Self.read(row, t, into: &records[r], replica: replica)
            }
        }
        return at
    }

    /// Runs `select` over the `ids` of the records at `positions` (of entity `tbl`, found in
    /// `index`), up to ``idsPerRead`` at a time as a JSON array in ?1 (and the push mark in ?2
    /// when given), and hands each row with its record's position to `body`. (Static, so that
    /// `body` may change the batch's records.)
    private static func read(_ positions: [Int], ids: [String], _ tbl: Int, _ index: [Key: Int], _ select: Statement, pushed: Int64?,
                             _ body: (Statement, Int) throws -> Void) throws {
        var from = 0
        while from < positions.count {
            let part = from..<min(from + idsPerRead, positions.count)
            from = part.endIndex
            let json = LogTable.idArray(ids[part])
            // Rows usually come in the array's order, missing ids left out: each is first
            // compared with the next few ids asked for, and looked up only when none matches.
            var next = part.startIndex
            try select.each(binding: { s in
                s.bind(json, at: 1)
                if let pushed { s.bind(pushed, at: 2) }
            }) { row in
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

    /// Fills a record's registers from its row of ``LogTable/selectStored(_:)``: the stored
    /// columns of all, and the state (value, clock, origin, base) of the lifecycle and of those
    /// the batch's changes name. A record that needs all (``Touched/needsAll``) or is not alive
    /// (a change to it is kept with every value) gets every register's state; for the others the
    /// merge reads no other register, and their row is updated in place. (Static: a method of
    /// the batch given one of its records inout would copy ``records`` for every row.)
    private static func read(_ row: Statement, _ t: LogTable, into record: inout Touched, replica: Replica) {
        var stored = StoredRow(cl: row.int64(1), seq: row.optionalInt64(2), t: row.optionalInt64(LogTable.referenceColumn),
                               registers: [], liveRowid: row.optionalInt64(t.liveRowidColumn))
        stored.registers.reserveCapacity(t.registers.count)
        for i in t.registers.indices { stored.registers.append(Self.stored(row, at: t.registerColumn(i))) }
        let all = record.needsAll || stored.cl % 2 == 0
        for (i, n) in t.registers.enumerated() where all || n == 0 || record.named & (1 << UInt64(n)) != 0 {
            guard let state = stored.state(i, value: n == 0 ? .integer(stored.cl) : row.value(t.valueColumn(i - 1)), replica: replica)
            else { continue }
            record.registers[n] = state
        }
        record.row = stored
        record.wasAlive = record.alive
    }

    /// A register's four stored columns (`h, s, b, q`) from column `c` of a row on.
    private static func stored(_ row: Statement, at c: Int32) -> Stored {
        Stored(h: row.optionalInt64(c), s: row.int64(c + 1), b: row.optionalInt64(c + 2), q: row.optionalInt64(c + 3))
    }

    /// Fills a live, settled record's registers from its row of ``LogTable/selectNarrow(_:)``:
    /// the stored columns and the state of the registers at `positions` (the lifecycle and those
    /// the batch names); the others are not read (``StoredRow/known``).
    private static func read(narrow row: Statement, _ positions: [Int], _ t: LogTable, into record: inout Touched, replica: Replica) {
        // id, cl, seq, t, settled; four columns per register; the fields' values; the rowid.
        var value = Int32(5 + 4 * positions.count)
        let rowid = value + Int32(positions.filter { $0 > 0 }.count)
        var stored = StoredRow(cl: row.int64(1), seq: row.optionalInt64(2), t: row.optionalInt64(3),
                               registers: Array(repeating: Stored(h: nil, s: 0, b: nil, q: nil), count: t.registers.count),
                               liveRowid: row.optionalInt64(rowid))
        stored.known = 0
        for (k, i) in positions.enumerated() {
            stored.registers[i] = Self.stored(row, at: Int32(5 + 4 * k))
            stored.known |= 1 << UInt64(i)
            let n = t.registers[i]
            let v: Value
            if n == 0 {
                v = .integer(stored.cl)
            } else {
                v = row.value(value)
                value += 1
            }
            if let state = stored.state(i, value: v, replica: replica) { record.registers[n] = state }
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

    /// A record's register columns (``LogTable/allRegisterColumns``) as they are bound.
    struct Encoded {
        var cl: Int64
        /// nil while something in the row is pending.
        var seq: Int64?
        var reference: Int64?
        /// Each register's columns, in ``LogTable/registers`` order.
        var registers: [Stored]

        func bind(to st: Statement, from first: Int32) {
            st.bind(cl, at: first)
            Self.bind(seq, to: st, at: first + 1)
            Self.bind(reference, to: st, at: first + 2)
            var k = first + 3
            for r in registers {
                bind(r, to: st, at: k)
                k += 4
            }
        }

        /// Binds one register's four columns from parameter `k` on.
        func bind(_ r: Stored, to st: Statement, at k: Int32) {
            Self.bind(r.h, to: st, at: k)
            st.bind(r.s, at: k + 1)
            Self.bind(r.b, to: st, at: k + 2)
            Self.bind(r.q, to: st, at: k + 3)
        }

        static func bind(_ v: Int64?, to st: Statement, at k: Int32) {
            if let v { st.bind(v, at: k) } else { st.bindNull(at: k) }
        }
    }

    /// Encodes a record's registers as ``LogTable`` stores them: clocks and bases relative to the
    /// row's reference clock (kept when it has one, else the lifecycle's or first register's
    /// clock), and a sequence number equal to the record's not stored.
    private func encode(_ r: Touched, _ t: LogTable, seq: Int64, pushed: Int64, sites: inout SiteCache,
                        site: (String) throws -> Int64) throws -> Encoded {
        var pending = false
        var decoded: [Decoded?] = []
        decoded.reserveCapacity(t.registers.count)
        for (i, n) in t.registers.enumerated() {
            if r.written[n], let state = r.registers[n] {
                decoded.append(Decoded(h: state.clock.int64, s: try sites.number(state.origin, site), b: state.base.int64, q: seq))
            } else if let row = r.row, !row.knows(i) {
                decoded.append(nil)
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
        var registers: [Stored] = []
        registers.reserveCapacity(decoded.count)
        for (i, register) in decoded.enumerated() {
            // A register not read keeps its columns (a settled row's, ``StoredRow/known``).
            if let row = r.row, !row.knows(i) {
                registers.append(row.registers[i])
                continue
            }
            guard let d = register, let reference else {
                // Never written (or, with no reference, pending with no clock and no base).
                registers.append(Stored(h: nil, s: register?.s ?? 0, b: nil, q: register?.q))
                continue
            }
            registers.append(Stored(h: d.h.map { $0 - reference }, s: d.s, b: d.b == 0 ? nil : d.b - reference,
                                    q: !pending && d.h != nil && d.q == seq ? nil : d.q))
        }
        return Encoded(cl: r.registers[0]?.causalLength ?? 0, seq: pending ? nil : seq, reference: reference, registers: registers)
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
            registers.bind(to: st, from: Int32(t.fields.count + 2))
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
            registers.bind(to: st, from: Int32(t.entity.fields.count + 2))
        }
    }

    /// Updates a live record's changed columns, and of its register columns those that differ
    /// from the row's (usually the written registers' and `seq`), finding the row by the rowid it
    /// was read with.
    private mutating func update(_ r: Int, _ t: LogTable, _ registers: Encoded) throws {
        let record = records[r]
        let cols = record.changed.sorted()
        let old = record.row
        // Which of cl, seq, t and which registers change; all of them when the row is not known
        // (it always is for a live record) or the entity has more registers than the mask holds.
        let all = old == nil || t.registers.count > 64
        var rowColumns: UInt8 = 0
        if all || old!.cl != registers.cl { rowColumns |= 1 }
        if all || old!.seq != registers.seq { rowColumns |= 2 }
        if all || old!.t != registers.reference { rowColumns |= 4 }
        var mask: UInt64 = 0
        if all {
            mask = .max
        } else {
            for i in t.registers.indices where old!.registers[i] != registers.registers[i] { mask |= 1 << UInt64(i) }
        }
        let rowid = old?.liveRowid
        let key = UpdateKey(tbl: record.table, fields: cols, rowColumns: rowColumns, registers: mask, byRowid: rowid != nil)
        let st: Statement
        if let s = updates[key] {
            st = s
        } else {
            var names = cols.map { t.entity.field(number: $0)!.name }
            for (bit, name) in ["cl", "seq", "t"].enumerated() where rowColumns & (1 << bit) != 0 { names.append(name) }
            for (i, n) in t.registers.enumerated() where mask & (1 << UInt64(min(i, 63))) != 0 {
                names += ["h\(n)", "s\(n)", "b\(n)", "q\(n)"]
            }
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
            if rowColumns & 1 != 0 { st.bind(registers.cl, at: k); k += 1 }
            if rowColumns & 2 != 0 { Encoded.bind(registers.seq, to: st, at: k); k += 1 }
            if rowColumns & 4 != 0 { Encoded.bind(registers.reference, to: st, at: k); k += 1 }
            for (i, register) in registers.registers.enumerated() where mask & (1 << UInt64(min(i, 63))) != 0 {
                registers.bind(register, to: st, at: k)
                k += 4
            }
            if let rowid { st.bind(rowid, at: k) } else { st.bind(record.id, at: k) }
        }
    }
}
