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
        // Each record's values by position in its entity's fields (nil: not given).
        var checked: [(EntitySpec, String, [Value?])] = []
        checked.reserveCapacity(records.count)
        for r in records {
            let e = try entity(r.entity)
            guard e.scope == .municipal else {
                throw ReplicaError(.invalidData,
                                   "\(e.name) \(r.id) is national reference data, owned by the styrgrupp; it arrives by pull, not import")
            }
            var given = [Value?](repeating: nil, count: e.fields.count)
            for (name, value) in r.fields {
                let (i, v) = try checkField(e, name, value)
                given[i] = v
            }
            if mode == .replace {
                for i in logTable(e).fieldPositions where given[i] == nil { given[i] = .null }
            }
            checked.append((e, try newID(e, requested: r.id), given))
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
            var referenceFields: [Int: [(Int, FieldSpec, String)]] = [:]
            for (e, id, given) in checked {
                let references = referenceFields[e.number] ?? e.fields.indices.compactMap { i in
                    if case .reference(let target) = e.fields[i].kind { return (i, e.fields[i], target) } else { return nil }
                }
                referenceFields[e.number] = references
                for (i, f, target) in references {
                    guard let ref = given[i]?.text else { continue }
                    guard try lifecycle(try entity(target), ref).map({ $0 % 2 == 1 }) == true else {
                        throw ReplicaError(.invalidData, "\(e.name) \(id): field '\(f.name)' points at \(target) \(ref), "
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
    /// alone, so every record gets the sequence number the triggers would have given it.
    private func importDirectly(_ checked: [(EntitySpec, String, [Value?])]) throws -> (created: Int, updated: Int) {
        var known = try lifecycles(checked)
        var created = 0
        var updated = 0
        db.setTriggersEnabled(false)
        defer { db.setTriggersEnabled(true) }
        var capture = try DirectCapture(db)
        for (e, id, given) in checked {
            let key = RecordKey(entity: e.number, id: id)
            switch known[key] {
            case nil:
                try requireFields(e, given)
                try capture.insert(logTable(e), id: id, given)
                known[key] = 1
                created += 1
            case let state? where state % 2 == 1:
                try capture.update(logTable(e), id: id, given)
                updated += 1
            default:
                try capture.finish()
                db.setTriggersEnabled(true)
                try requireFields(e, given)
                try insertRow(e, id: id, fields: Self.byName(e, given, withNull: false), checkReferences: false)
                db.setTriggersEnabled(false)
                try capture.resume()
                known[key] = 1
                created += 1
            }
        }
        try capture.finish()
        return (created, updated)
    }

    /// Writes the records in order through the capture triggers (what the `sqlite3` shell's
    /// writes do); tests compare ``importDirectly(_:)`` with it.
    private func importThroughTriggers(_ checked: [(EntitySpec, String, [Value?])], _ created: inout Int, _ updated: inout Int) throws {
        for (e, id, given) in checked {
            switch try lifecycle(e, id) {
            case let state? where state % 2 == 1:
                try updateRow(e, id: id, fields: Self.byName(e, given, withNull: true), checkReferences: false)
                updated += 1
            default:
                try requireFields(e, given)
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

    private struct RecordKey: Hashable {
        let entity: Int
        let id: String
    }

    /// The causal length of each record of `checked` that this replica knows, read with one query
    /// per entity: as ``lifecycle(_:_:)``, except that a record known only from field changes
    /// (its lifecycle never written) has 0, not alive. Records not in the result are new.
    private func lifecycles(_ checked: [(EntitySpec, String, [Value?])]) throws -> [RecordKey: Int64] {
        var ids: [Int: [String]] = [:]
        for (e, id, _) in checked { ids[e.number, default: []].append(id) }
        var out: [RecordKey: Int64] = [:]
        for (number, list) in ids {
            let t = logTableByNumber[number]!
            let json = LogTable.idArray(list)
            try db.prepare(t.knownAmong).each(binding: { $0.bind(json, at: 1) }) { row in
                let key = RecordKey(entity: number, id: row.text(0) ?? "")
                out[key] = row.int64(2) != 0 ? row.int64(1) : 0
            }
        }
        return out
    }
}
