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
        // Each record's values by position in its entity's fields (nil: not given), with its
        // entity's change-log table (which names the entity).
        var checked: [(LogTable, String, [Value?])] = []
        checked.reserveCapacity(records.count)
        // Records come in runs of one entity (a file lists one entity's records together): the
        // entity is looked up once per run.
        var start = 0
        while start < records.count {
            let name = records[start].entity
            let e = try entity(name)
            guard e.scope == .municipal else {
                throw ReplicaError(.invalidData, "\(e.name) \(records[start].id) is national reference data, owned by the styrgrupp; "
                    + "it arrives by pull, not import")
            }
            let t = logTable(e)
            var k = start
            while k < records.count, records[k].entity == name {
                var given = [Value?](repeating: nil, count: e.fields.count)
                for (field, value) in records[k].fields {
                    let (i, v) = try checkField(e, field, value, at: t.positions[field])
                    given[i] = v
                }
                if mode == .replace {
                    for i in t.fieldPositions where given[i] == nil { given[i] = .null }
                }
                checked.append((t, try newID(e, requested: records[k].id), given))
                k += 1
            }
            start = k
        }
        return try write {
            var created = 0
            var updated = 0
            if capturesImportsDirectly {
                (created, updated) = try importDirectly(checked)
            } else {
                try importThroughTriggers(checked, &created, &updated)
            }
            // References are checked once everything is written, so a file may list a round before its venue.
            for k in checked.indices where !checked[k].0.references.isEmpty {
                let (t, id, given) = checked[k]
                for (i, f, target) in t.references {
                    guard let ref = given[i]?.text else { continue }
                    guard try lifecycle(try entity(target), ref).map({ $0 % 2 == 1 }) == true else {
                        throw ReplicaError(.invalidData, "\(t.entity.name) \(id): field '\(f.name)' points at \(target) \(ref), "
                            + "which is neither in this replica nor in the file")
                    }
                }
            }
            return (created, updated)
        }
    }

    /// Writes the records in order with the triggers off, capturing new and live records'
    /// changes with ``DirectCapture``. A record that is known but not alive (a re-creation keeps
    /// its earlier registers and kept values) is written through the triggers, turned on for it
    /// alone, so every record gets the sequence number the triggers would have given it. Each
    /// record is looked up once: its live row (read with the comparison of its given values),
    /// else its row of records that are not alive, else it is new; a table that had no such row
    /// at the start is not searched (but for records the import itself made alive).
    private func importDirectly(_ checked: [(LogTable, String, [Value?])]) throws -> (created: Int, updated: Int) {
        var created = 0
        var updated = 0
        db.setTriggersEnabled(false)
        defer { db.setTriggersEnabled(true) }
        var capture = try DirectCapture(db)
        // An import never makes a record not alive, so an entity with no such record at the start
        // has none throughout (the usual case of a first import), and its look-ups are skipped.
        var noneGone: [Int: Bool] = [:]
        // Likewise the live records of an entity with none at the start are those the import
        // itself made alive: any other record is new, and its look-up is skipped too.
        var noneLive: [Int: Bool] = [:]
        var madeAlive: [Int: Set<String>] = [:]
        for (t, id, given) in checked {
            let number = t.number
            if noneLive[number] == nil {
                noneLive[number] = try db.cached(t.anyLive).first([], { _ in true }) == nil
            }
            let mayBeLive = noneLive[number] != true || madeAlive[number]?.contains(id) == true
            if mayBeLive, try capture.update(t, id: id, given) != nil {
                updated += 1
                continue
            }
            if noneLive[number] == true { madeAlive[number, default: []].insert(id) }
            if noneGone[number] == nil {
                noneGone[number] = try db.cached(t.anyKept).first([], { _ in true }) == nil
            }
            let kept = noneGone[number] == true ? false : try db.cached(t.isKept).first([.text(id)], { _ in true }) ?? false
            if !kept {
                try requireFields(t, given)
                try capture.insert(t, id: id, given)
                created += 1
            } else {
                let e = t.entity
                try capture.finish()
                db.setTriggersEnabled(true)
                try requireFields(t, given)
                try insertRow(e, id: id, fields: Self.byName(e, given, withNull: false), checkReferences: false)
                db.setTriggersEnabled(false)
                try capture.resume()
                created += 1
            }
        }
        try capture.finish()
        return (created, updated)
    }

    /// Writes the records in order through the capture triggers (what the `sqlite3` shell's
    /// writes do); tests compare ``importDirectly(_:)`` with it.
    private func importThroughTriggers(_ checked: [(LogTable, String, [Value?])], _ created: inout Int, _ updated: inout Int) throws {
        for (t, id, given) in checked {
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
    }

    /// The given values by field name, NULLs included or left out.
    private static func byName(_ e: EntitySpec, _ given: [Value?], withNull: Bool) -> [String: Value] {
        var fields: [String: Value] = [:]
        for (i, v) in given.enumerated() { if let v, withNull || !v.isNull { fields[e.fields[i].name] = v } }
        return fields
    }
}
