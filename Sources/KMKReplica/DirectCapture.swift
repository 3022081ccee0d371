import KMKModel

/// Writes records for ``Replica/importRecords(_:mode:)`` while the connection's triggers are off,
/// and captures each change itself (SPEC.md §4, "Direct capture"): a new record's row with its
/// register columns, a live record's changed fields with its register columns, each in one
/// statement, exactly as the capture triggers would have written them, without running a trigger
/// program per row.
///
/// Values are given per record as an array over the entity's fields (nil: not given). The
/// statements are prepared once per shape (entity, statement, which fields) per import.
struct DirectCapture {
    private let db: Database
    private let clock: Int64
    private let pushed: Int64
    /// The last sequence number issued; each record whose change log is written takes the next.
    private(set) var seq: Int64
    private var statements: [Shape: Statement] = [:]
    /// Whether the last record ``update(_:id:_:)`` looked up had a live row.
    private var lastFound = true
    /// The one-statement update (``LogTable/directCleanUpdate(given:)``) of the last shape that
    /// had one: its entity, which fields it gives, and the statement.
    private var lastCleanEntity = -1
    private var lastCleanMask: [Bool] = []
    private var lastClean: Statement?

    private struct Shape: Hashable {
        enum Kind { case insert, compare, update, cleanUpdate }
        let entity: Int
        let kind: Kind
        let mask: [Bool]
    }

    /// Reads the stamp of the write transaction that ``Replica/write(_:)`` opened.
    init(_ db: Database) throws {
        self.db = db
        guard let stamp = try db.cached("SELECT hlc, seq, pushed FROM kmk_stamp").first([], { ($0.int64(0), $0.int64(1), $0.int64(2)) })
        else { throw ReplicaError(.internalError, "direct capture outside a write transaction (no kmk_stamp row); this is a bug") }
        (clock, seq, pushed) = stamp
    }

    /// Creates a record this replica never knew, with its non-NULL given values: its row and
    /// registers in one INSERT.
    mutating func insert(_ t: LogTable, id: String, _ given: [Value?]) throws {
        let present = given.map { $0.map { !$0.isNull } ?? false }
        let row = try statement(t.number, .insert, present) { t.directInsert(present: present) }
        seq += 1
        try run(row, key: .text(id), given, withNull: false)
    }

    /// Writes the given values of a live record; the synced fields whose value changes become
    /// changes. Returns whether a given value differed from the record's, nil when the record
    /// has no live row.
    mutating func update(_ t: LogTable, id: String, _ given: [Value?]) throws -> Bool? {
        // The usual case first: a record found by the last look-up makes the next one likely
        // found too (an import updates runs of known records), so a record with nothing pending
        // whose given fields (at least one) are all synced is written in one statement that
        // finds, compares and writes it; it writes nothing when the record is missing, unchanged
        // or has a pending register. (The statement of the last record's shape is reused without
        // building the shape, the usual case in a file of records of one kind.)
        var clean: Statement?
        // Which fields are given, once known (the look-up below needs it too).
        var shape: [Bool]?
        if lastFound, lastCleanEntity == t.number, given.count == lastCleanMask.count,
           lastCleanMask.withUnsafeBufferPointer({ mask in given.indices.allSatisfy { (given[$0] != nil) == mask[$0] } }) {
            clean = lastClean
            shape = lastCleanMask
        } else if lastFound {
            let mask = given.map { $0 != nil }
            shape = mask
            if mask.contains(true), mask.indices.allSatisfy({ !mask[$0] || !t.localOnly[$0] }) {
                let row = try statement(t.number, .cleanUpdate, mask) { t.directCleanUpdate(given: mask) }
                (lastCleanEntity, lastCleanMask, lastClean) = (t.number, mask, row)
                clean = row
            }
        }
        if let row = clean {
            try row.run { s in
                s.bind(clock, at: 1)
                s.bind(seq + 1, at: 2)
                s.bind(pushed, at: 3)
                s.bind(id, at: 4)
                _ = Self.bind(given, withNull: true, to: s, from: 5)
            }
            if db.changes == 1 {
                seq += 1
                return true
            }
        }
        let mask = shape ?? given.map { $0 != nil }
        // The row's rowid, registers and, for each given field, whether the new value differs
        // (SQL's IS NOT, as the update trigger compares); the update then finds the row by rowid.
        let compare = try statement(t.number, .compare, mask) {
            let e = t.entity
            return "SELECT " + (["rowid, cl, seq, t, pend, regs"] + e.fields.indices.filter { mask[$0] }.map { "\(e.fields[$0].name) IS NOT ?" })
                .joined(separator: ", ") + " FROM \(e.name) WHERE id = ?"
        }
        var changed = [Bool](repeating: false, count: given.count)
        var found: (rowid: Int64, t: Int64?, seq: Int64?, pend: Int64, slots: [StoredRegister]?)?
        try compare.each(binding: { s in s.bind(id, at: Self.bind(given, withNull: true, to: s, from: 1)) }) { s in
            found = (s.int64(0), s.optionalInt64(3), s.optionalInt64(2), s.int64(4), s.registerSlots(at: 5, count: t.registers.count))
            var column: Int32 = 6
            for i in given.indices where mask[i] {
                changed[i] = s.int64(column) != 0
                column += 1
            }
        }
        lastFound = found != nil
        guard let found else { return nil }
        guard changed.contains(true) else { return false }
        var written = found.pend
        for (p, i) in t.fieldPositions.enumerated() where changed[i] { written |= LogTable.bit(p + 1) }
        let synced = t.fieldPositions.contains { changed[$0] }
        let row = try statement(t.number, .update, mask + [synced]) { t.directUpdate(given: mask, registers: synced) }
        var blob: [UInt8] = []
        if synced {
            guard var slots = found.slots else {
                throw ReplicaError.damagedRegisters(db.path, t.entity.name, id)
            }
            RegisterRules.write(&slots, t: found.t ?? clock, oldSeq: found.seq, written: written, clock: clock, mark: pushed)
            RegisterBlob.encode(slots, into: &blob)
            seq += 1
        }
        try row.run { s in
            s.bind(clock, at: 1)
            s.bind(seq, at: 2)
            s.bind(blob: blob, at: 3)
            s.bind(found.rowid, at: 4)
            _ = Self.bind(given, withNull: true, to: s, from: 5)
        }
        return true
    }

    /// Leaves the last sequence number issued in `kmk_stamp`, where the triggers (and
    /// ``Replica/write(_:)``) continue from it.
    func finish() throws {
        try db.cached("UPDATE kmk_stamp SET seq = ?").run([.integer(seq)])
    }

    /// Takes up the sequence numbers after the triggers issued some (see ``finish()``).
    mutating func resume() throws {
        guard let top = try db.cached("SELECT seq FROM kmk_stamp").first([], { $0.int64(0) }) else {
            throw ReplicaError(.internalError, "direct capture lost its kmk_stamp row; this is a bug")
        }
        seq = top
    }

    /// Runs a statement of ``LogTable/directInsert(present:)`` (`key` the id).
    private func run(_ s: Statement, key: Value, _ given: [Value?], withNull: Bool) throws {
        try s.run { s in
            s.bind(clock, at: 1)
            s.bind(seq, at: 2)
            s.bind(pushed, at: 3)
            s.bind(key, at: 4)
            _ = Self.bind(given, withNull: withNull, to: s, from: 5)
        }
    }

    /// Binds the given values in field order from parameter `first` on, NULLs included or left
    /// out; returns the next parameter's index.
    private static func bind(_ given: [Value?], withNull: Bool, to s: Statement, from first: Int32) -> Int32 {
        var k = first
        for case let v? in given where withNull || !v.isNull {
            s.bind(v, at: k)
            k += 1
        }
        return k
    }

    private mutating func statement(_ entity: Int, _ kind: Shape.Kind, _ mask: [Bool], _ sql: () -> String) throws -> Statement {
        let shape = Shape(entity: entity, kind: kind, mask: mask)
        if let s = statements[shape] { return s }
        let s = try db.prepare(sql())
        statements[shape] = s
        return s
    }
}
