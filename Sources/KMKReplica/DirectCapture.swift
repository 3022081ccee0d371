import KMKModel

/// Writes records for ``Replica/importRecords(_:mode:)`` while the connection's triggers are off,
/// and captures each change itself (SPEC.md §4, "Direct capture"): a new record's row and clock
/// row, a live record's changed fields and its clock row, exactly as the capture triggers would
/// have written them, without running a trigger program per row.
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

    private struct Shape: Hashable {
        enum Kind { case insert, insertClock, compare, update, updateClock }
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

    /// Creates a record this replica never knew, with its non-NULL given values.
    mutating func insert(_ t: LogTable, id: String, _ given: [Value?]) throws {
        let e = t.entity
        let present = given.map { $0.map { !$0.isNull } ?? false }
        let row = try statement(e.number, .insert, present) {
            let names = e.fields.indices.filter { present[$0] }.map { e.fields[$0].name }
            return "INSERT INTO \(e.name) (" + (["id"] + names).joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: names.count + 1).joined(separator: ", ") + ")"
        }
        try row.run { s in
            s.bind(id, at: 1)
            _ = Self.bind(given, withNull: false, to: s, from: 2)
        }
        let written = t.fieldPositions.map { present[$0] }
        let clockRow = try statement(e.number, .insertClock, written) { t.directInsert(written: written) }
        seq += 1
        try runClock(clockRow, id)
    }

    /// Writes the given values of a live record; the synced fields whose value changes become
    /// changes. Returns false when no given value differs from the record's.
    @discardableResult
    mutating func update(_ t: LogTable, id: String, _ given: [Value?]) throws -> Bool {
        let e = t.entity
        let mask = given.map { $0 != nil }
        // The row's rowid and, for each given field, whether the new value differs (SQL's IS NOT,
        // as the update trigger compares); the update then finds the row by rowid.
        let compare = try statement(e.number, .compare, mask) {
            "SELECT rowid, " + e.fields.indices.filter { mask[$0] }.map { "\(e.fields[$0].name) IS NOT ?" }.joined(separator: ", ")
                + " FROM \(e.name) WHERE id = ?"
        }
        var changed = [Bool](repeating: false, count: given.count)
        var rowid: Int64?
        try compare.each(binding: { s in s.bind(id, at: Self.bind(given, withNull: true, to: s, from: 1)) }) { s in
            rowid = s.int64(0)
            var column: Int32 = 1
            for i in given.indices where mask[i] {
                changed[i] = s.int64(column) != 0
                column += 1
            }
        }
        guard let rowid else { throw ReplicaError(.internalError, "\(e.name) \(id) was expected alive but has no row; run: kmk-sync check") }
        guard changed.contains(true) else { return false }
        let row = try statement(e.number, .update, mask) {
            "UPDATE \(e.name) SET " + e.fields.indices.filter { mask[$0] }.map { "\(e.fields[$0].name) = ?" }.joined(separator: ", ")
                + " WHERE rowid = ?"
        }
        try row.run { s in s.bind(rowid, at: Self.bind(given, withNull: true, to: s, from: 1)) }
        let changedSynced = t.fieldPositions.map { changed[$0] }
        guard changedSynced.contains(true) else { return true }
        let clockRow = try statement(e.number, .updateClock, changedSynced) { t.directUpdate(changed: changedSynced) }
        seq += 1
        try runClock(clockRow, id)
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

    private func runClock(_ s: Statement, _ id: String) throws {
        try s.run { s in
            s.bind(clock, at: 1)
            s.bind(seq, at: 2)
            s.bind(pushed, at: 3)
            s.bind(id, at: 4)
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
