import KMKModel

extension Replica {
    /// How a record is written by ``importRecords(_:mode:)``.
    public enum ImportMode: Sendable {
        /// Each record is a whole state: synced fields it leaves out become NULL (export files).
        case replace
        /// Only the fields given are written (CSV lists).
        case merge
    }

    /// Writes many records in one transaction: all or nothing. A deleted record that is imported
    /// again is re-created. Returns (created, updated).
    ///
    /// New records and live ones are written with the triggers off and their changes captured
    /// directly (``DirectCapture``, SPEC.md §4); re-creations go through the capture triggers.
    @discardableResult
    public func importRecords(_ records: [Record], mode: ImportMode) throws -> (created: Int, updated: Int) {
        try write {
            var created = 0
            var updated = 0
            // References are checked once everything is written, so a file may list a round
            // before its venue: (entity, id, field, target entity, target id).
            var references: [(LogTable, String, FieldSpec, String, String)] = []
            func noteReferences(_ t: LogTable, _ id: String, _ given: [Value?]) {
                for (i, f, target) in t.references { if let ref = given[i]?.text { references.append((t, id, f, target, ref)) } }
            }
            if capturesImportsDirectly {
                var importer = try DirectImport(self)
                // The triggers come back on however the import ends.
                defer { db.setTriggersEnabled(true) }
                try eachChecked(records, mode: mode) { t, id, given in
                    try importer.write(t, id, given)
                    noteReferences(t, id, given)
                }
                try importer.finish()
                (created, updated) = (importer.created, importer.updated)
            } else {
                try eachChecked(records, mode: mode) { t, id, given in
                    try importThroughTriggers(t, id, given, &created, &updated)
                    noteReferences(t, id, given)
                }
            }
            for (t, id, f, target, ref) in references {
                guard try lifecycle(try entity(target), ref).map({ $0 % 2 == 1 }) == true else {
                    throw ReplicaError(.invalidData, "\(t.entity.name) \(id): field '\(f.name)' points at \(target) \(ref), "
                        + "which is neither in this replica nor in the file")
                }
            }
            return (created, updated)
        }
    }

    /// Checks each record in order and hands it to `body` with its entity's change-log table
    /// (which names the entity), its id and its values by position in the entity's fields (nil:
    /// not given; with `.replace`, NULL for each synced field left out). The values' array is
    /// reused for the next record, so `body` must not keep it. A record that breaks a rule
    /// throws; ``importRecords(_:mode:)`` runs this inside its transaction, so nothing is kept.
    private func eachChecked(_ records: [Record], mode: ImportMode, _ body: (LogTable, String, [Value?]) throws -> Void) throws {
        var given: [Value?] = []
        // Records come in runs of one entity (a file lists one entity's records together): the
        // entity is looked up once per run.
        var start = 0
        while start < records.count {
            let name = records[start].entity
            let e = try entity(name)
            guard e.scope == .municipal else {
                // A municipality's export holds the national reference data it pulled; a replica
                // rebuilt from it gets that data back by pull (SPEC.md §5), so it is passed over.
                guard !municipality.isNational else {
                    throw ReplicaError(.invalidData, "\(e.name) \(records[start].id): national data is written in the styrgrupp's "
                        + "replica with kmk-sync criteria, not imported")
                }
                while start < records.count, records[start].entity == name { start += 1 }
                continue
            }
            let t = logTable(e)
            var k = start
            while k < records.count, records[k].entity == name {
                given.removeAll(keepingCapacity: true)
                given.append(contentsOf: repeatElement(nil, count: e.fields.count))
                for (field, value) in records[k].fields {
                    let (i, v) = try checkField(e, field, value, at: t.positions[field])
                    given[i] = v
                }
                if mode == .replace {
                    for i in t.fieldPositions where given[i] == nil {
                        // Left out means NULL, which a required field refuses (FieldSpec.check).
                        given[i] = t.required[i] ? try checkField(e, e.fields[i].name, .null, at: i).value : .null
                    }
                }
                try body(t, try newID(e, requested: records[k].id), given)
                k += 1
            }
            start = k
        }
    }

    /// Writes records in order with the triggers off, capturing new and live records' changes
    /// with ``DirectCapture``. A record that is known but not alive (a re-creation keeps its
    /// earlier registers and kept values) is written through the triggers, turned on for it
    /// alone, so every record gets the sequence number the triggers would have given it. Each
    /// record is looked up once: its live row (read with the comparison of its given values),
    /// else its row of records that are not alive, else it is new; a table that had no such row
    /// at the start is not searched (but for records the import itself made alive).
    private struct DirectImport {
        let replica: Replica
        var capture: DirectCapture
        var created = 0
        var updated = 0
        // An import never makes a record not alive, so an entity with no such record at the start
        // has none throughout (the usual case of a first import), and its look-ups are skipped.
        var noneGone: [Int: Bool] = [:]
        // Likewise the live records of an entity with none at the start are those the import
        // itself made alive: any other record is new, and its look-up is skipped too.
        var noneLive: [Int: Bool] = [:]
        var madeAlive: [Int: Set<String>] = [:]

        /// Turns the connection's triggers off; the caller turns them on again.
        init(_ replica: Replica) throws {
            self.replica = replica
            capture = try DirectCapture(replica.db)
            replica.db.setTriggersEnabled(false)
        }

        mutating func write(_ t: LogTable, _ id: String, _ given: [Value?]) throws {
            let db = replica.db
            let number = t.number
            if noneLive[number] == nil {
                noneLive[number] = try db.cached(t.anyLive).first([], { _ in true }) == nil
            }
            let mayBeLive = noneLive[number] != true || madeAlive[number]?.contains(id) == true
            if mayBeLive, try capture.update(t, id: id, given) != nil {
                updated += 1
                return
            }
            if noneLive[number] == true { madeAlive[number, default: []].insert(id) }
            if noneGone[number] == nil {
                noneGone[number] = try db.cached(t.anyKept).first([], { _ in true }) == nil
            }
            let kept = noneGone[number] == true ? false : try db.cached(t.isKept).first([.text(id)], { _ in true }) ?? false
            try replica.requireFields(t, given)
            if !kept {
                try capture.insert(t, id: id, given)
            } else {
                let e = t.entity
                try capture.finish()
                db.setTriggersEnabled(true)
                defer { db.setTriggersEnabled(false) }
                try replica.insertRow(e, id: id, fields: Replica.byName(e, given, withNull: false), checkReferences: false)
                try capture.resume()
            }
            created += 1
        }

        /// Leaves the sequence numbers in `kmk_stamp` (the caller turns the triggers back on).
        func finish() throws {
            try capture.finish()
        }
    }

    /// Writes one record through the capture triggers (what the `sqlite3` shell's writes do);
    /// tests compare ``DirectImport`` with it.
    private func importThroughTriggers(_ t: LogTable, _ id: String, _ given: [Value?], _ created: inout Int, _ updated: inout Int) throws {
        let e = t.entity
        switch try lifecycle(e, id) {
        case let state? where state % 2 == 1:
            try updateRow(e, id: id, fields: Self.byName(e, given, withNull: true), checkReferences: false)
            updated += 1
        default:
            try requireFields(t, given)
            try insertRow(e, id: id, fields: Self.byName(e, given, withNull: false), checkReferences: false)
            created += 1
        }
    }

    /// The given values by field name, NULLs included or left out.
    fileprivate static func byName(_ e: EntitySpec, _ given: [Value?], withNull: Bool) -> [String: Value] {
        var fields: [String: Value] = [:]
        for (i, v) in given.enumerated() { if let v, withNull || !v.isNull { fields[e.fields[i].name] = v } }
        return fields
    }
}
