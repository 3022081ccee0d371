import KMKModel

extension Replica {
    /// Creates a record and returns its id. Checks field names, types, required fields and that
    /// referenced records exist.
    @discardableResult
    public func insert(_ entityName: String, id: String? = nil, fields: [String: Value]) throws -> String {
        let e = try entityForWriting(entityName)
        let id = try newID(e, requested: id)
        let checked = try checkFields(e, fields, creating: true)
        return try write {
            if let state = try lifecycle(e, id) {
                throw ReplicaError(.invalidData, state % 2 == 1
                    ? "\(e.name) \(id) already exists; use update (or set) to change it"
                    : "\(e.name) \(id) was deleted; bring it back with: kmk-sync \(e.name) restore \(id)")
            }
            try insertRow(e, id: id, fields: checked)
            return id
        }
    }

    /// Changes fields of an existing record.
    public func update(_ entityName: String, id: String, fields: [String: Value]) throws {
        let e = try entityForWriting(entityName)
        let checked = try checkFields(e, fields, creating: false)
        try write {
            try requireAlive(e, id)
            try updateRow(e, id: id, fields: checked)
        }
    }

    /// Creates the record if it does not exist, otherwise changes the given fields.
    /// Returns whether it was created.
    @discardableResult
    public func set(_ entityName: String, id: String, fields: [String: Value]) throws -> Bool {
        let e = try entityForWriting(entityName)
        guard try lifecycle(e, id.lowercased()).map({ $0 % 2 == 1 }) == true else {
            _ = try insert(entityName, id: id, fields: fields)
            return true
        }
        try update(entityName, id: id.lowercased(), fields: fields)
        return false
    }

    /// Deletes a record. Its synced fields are kept in the change log so that ``restore(_:id:)``
    /// can bring it back; local-only fields are gone with the row.
    public func delete(_ entityName: String, id: String) throws {
        let e = try entityForWriting(entityName)
        try write {
            try requireAlive(e, id)
            try db.cached("DELETE FROM \(e.name) WHERE id = ?").run([.text(id)])
        }
    }

    /// Brings back a deleted record with its last synced field values. Re-creating is an explicit
    /// act: a delete is never undone by a concurrent update.
    public func restore(_ entityName: String, id: String) throws {
        let e = try entityForWriting(entityName)
        try write {
            guard let state = try lifecycle(e, id) else { throw notFound(e, id) }
            guard state % 2 == 0 else { throw ReplicaError(.invalidData, "\(e.name) \(id) is not deleted; nothing to restore") }
            try insertRow(e, id: id, fields: try storedFields(e, id), checkReferences: false)
        }
    }

    /// One live record, or nil.
    public func record(_ entityName: String, id: String, includeLocal: Bool = true) throws -> Record? {
        let e = try entity(entityName)
        let fields = includeLocal ? e.fields : e.syncedFields
        let sql = "SELECT " + (["id"] + fields.map(\.name)).joined(separator: ", ") + " FROM \(e.name) WHERE id = ?"
        return try db.cached(sql).first([.text(id.lowercased())]) { row in makeRecord(e, fields, row) }
    }

    /// All live records of an entity, sorted by id.
    public func records(_ entityName: String, includeLocal: Bool = true) throws -> [Record] {
        let e = try entity(entityName)
        let fields = includeLocal ? e.fields : e.syncedFields
        let sql = "SELECT " + (["id"] + fields.map(\.name)).joined(separator: ", ") + " FROM \(e.name) ORDER BY id"
        return try db.cached(sql).rows { row in makeRecord(e, fields, row) }
    }

    /// Ids of deleted records of an entity (they can be restored).
    public func deletedIDs(_ entityName: String) throws -> [String] {
        let t = logTable(try entity(entityName))
        return try db.cached("SELECT id FROM \(t.gone) WHERE cl > 0 AND cl % 2 = 0 ORDER BY id").rows { $0.text(0) ?? "" }
    }

    /// The reference fields of `record` that point at a record that does not exist or was
    /// deleted (on this or another replica): the record is an orphan. Orphans are kept, listed
    /// and flagged, never counted in reports (SPEC.md, "References across merges").
    public func missingReferences(_ record: Record) throws -> [String] {
        let e = try entity(record.entity)
        var missing: [String] = []
        for f in e.referenceFields {
            guard case .reference(let target) = f.kind, let id = record[f.name].text else { continue }
            guard let targetSpec = schema.entity(target) else { continue }
            if try lifecycle(targetSpec, id).map({ $0 % 2 == 1 }) != true { missing.append(f.name) }
        }
        return missing
    }

    /// Every live record, as the canonical export document.
    public func export(includeLocal: Bool = false) throws -> ExportDocument {
        var all: [Record] = []
        for e in schema.entities { all += try records(e.name, includeLocal: includeLocal) }
        return ExportDocument(municipality: municipality.code, schemaVersion: schema.version, records: all)
    }

    /// The SQL that makes an entity's table as a program without a change log would: the same
    /// columns, CHECK constraints and indexes, without the register columns (the benchmark's
    /// plain baseline).
    public static func plainTableSQL(_ e: EntitySpec) -> String { ReplicaDDL.plainTable(e) }

    // MARK: - Helpers

    /// The causal length of a record (odd: exists, even: deleted), or nil if never seen.
    func lifecycle(_ e: EntitySpec, _ id: String) throws -> Int64? {
        try db.cached(logTable(e).lifecycleByID).first([.text(id)]) { $0.int64(0) }
    }

    func requireAlive(_ e: EntitySpec, _ id: String) throws {
        guard let state = try lifecycle(e, id) else { throw notFound(e, id) }
        guard state % 2 == 1 else {
            throw ReplicaError(.notFound, "\(e.name) \(id) was deleted; bring it back with: kmk-sync \(e.name) restore \(id)")
        }
    }

    func notFound(_ e: EntitySpec, _ id: String) -> ReplicaError {
        ReplicaError(.notFound, "no \(e.name) with id \(id) in this replica; list them with: kmk-sync \(e.name) list")
    }

    func newID(_ e: EntitySpec, requested: String?) throws -> String {
        switch e.identity {
        case .municipalityCode:
            let id = requested ?? municipality.code
            guard id == municipality.code else {
                throw ReplicaError(.invalidData, "the municipality profile's id is the kommunkod; this replica is for "
                    + "\(municipality), so the id must be \(municipality.code), not \(id)")
            }
            return id
        case .random:
            guard let requested else { return RecordID.make(millis: now()) }
            guard RecordID.isValid(requested), requested.utf8.count == 36 else {
                throw ReplicaError(.invalidData, "'\(requested)' is not a valid id; ids are UUIDs like 3f1c…-…; leave it out to get a new one")
            }
            // A valid id is ASCII: only its letters A–F need lowering (usually there are none).
            let upper = requested.utf8.withContiguousStorageIfAvailable { $0.contains { $0 >= 65 && $0 <= 70 } }
                ?? requested.utf8.contains { $0 >= 65 && $0 <= 70 }
            return upper ? requested.lowercased() : requested
        }
    }

    /// Checks names and values; on creation also required fields. References must point at live records.
    func checkFields(_ e: EntitySpec, _ fields: [String: Value], creating: Bool) throws -> [String: Value] {
        var out: [String: Value] = [:]
        for (name, value) in fields { out[name] = try checkField(e, name, value).value }
        if creating { try requireFields(e, out) }
        return out
    }

    /// One field checked: its position in the entity's fields and its value in stored form.
    /// `position` is the field's position when the caller knows it (``LogTable/positions``).
    func checkField(_ e: EntitySpec, _ name: String, _ value: Value, at position: Int? = nil) throws -> (position: Int, value: Value) {
        guard let i = position ?? e.fields.firstIndex(where: { $0.name == name }) else {
            throw ReplicaError(.invalidData, "\(e.name) has no field '\(name)'; its fields are: "
                + e.fields.map(\.name).joined(separator: ", "))
        }
        let spec = e.fields[i]
        let checked: Value
        do {
            checked = try spec.check(value)
        } catch {
            throw ReplicaError(.invalidData, "\(e.name): \(error.message)")
        }
        if spec.required, checked.isNull {
            throw ReplicaError(.invalidData, "\(e.name): field '\(name)' is required; it takes \(spec.kind.allowed)")
        }
        return (i, checked)
    }

    func requireFields(_ e: EntitySpec, _ fields: [String: Value]) throws {
        try requireFields(logTable(e), e.fields.map { fields[$0.name] })
    }

    /// The same for values by position in the entity's fields (nil: not given), checked against
    /// the entity's `LogTable` (an import's per-record path: the entity is read only to say what
    /// is missing).
    func requireFields(_ t: LogTable, _ given: [Value?]) throws {
        let missing = t.required.indices.filter { t.required[$0] && (given[$0] ?? .null).isNull }
        guard !missing.isEmpty else { return }
        let e = t.entity
        throw ReplicaError(.invalidData, "a new \(e.name) needs " + missing.map { "\(e.fields[$0].name) (\(e.fields[$0].kind.allowed))" }
            .joined(separator: ", "))
    }

    func checkReferences(_ e: EntitySpec, _ fields: [String: Value]) throws {
        for f in e.referenceFields {
            guard case .reference(let target) = f.kind, let ref = fields[f.name]?.text else { continue }
            let t = try entity(target)
            guard try lifecycle(t, ref).map({ $0 % 2 == 1 }) == true else {
                throw ReplicaError(.invalidData, "\(e.name): field '\(f.name)' points at \(target) \(ref), which does not exist "
                    + "in this replica (or was deleted); list them with: kmk-sync \(target) list")
            }
        }
    }

    func insertRow(_ e: EntitySpec, id: String, fields: [String: Value], checkReferences check: Bool = true) throws {
        if check { try checkReferences(e, fields) }
        let names = fields.keys.sorted()
        let sql = "INSERT INTO \(e.name) (" + (["id"] + names).joined(separator: ", ") + ") VALUES ("
            + Array(repeating: "?", count: names.count + 1).joined(separator: ", ") + ")"
        try db.cached(sql).run([.text(id)] + names.map { fields[$0]! })
    }

    func updateRow(_ e: EntitySpec, id: String, fields: [String: Value], checkReferences check: Bool = true) throws {
        guard !fields.isEmpty else { return }
        if check { try checkReferences(e, fields) }
        let names = fields.keys.sorted()
        let sql = "UPDATE \(e.name) SET " + names.map { "\($0) = ?" }.joined(separator: ", ") + " WHERE id = ?"
        try db.cached(sql).run(names.map { fields[$0]! } + [.text(id)])
    }

    /// The change-log table of an entity.
    func logTable(_ e: EntitySpec) -> LogTable {
        logTableByNumber[e.number] ?? LogTable(e)
    }

    /// The values of a record's field registers (from its row when alive, from the values kept
    /// when not), leaving out NULL values and fields never written.
    func storedFields(_ e: EntitySpec, _ id: String) throws -> [String: Value] {
        let t = logTable(e)
        var out: [String: Value] = [:]
        _ = try db.cached(t.selectByID).first([.text(id)]) { row in
            let registers = row.registerRow(at: LogTable.registerColumn, count: t.registers.count)
            for (i, f) in t.fields.enumerated() where registers?.decoded(i + 1) != nil {
                let v = row.value(t.valueColumn(i))
                if !v.isNull { out[f.name] = v }
            }
        }
        return out
    }

    func makeRecord(_ e: EntitySpec, _ fields: [FieldSpec], _ row: Statement) -> Record {
        var values: [String: Value] = [:]
        for (i, f) in fields.enumerated() {
            let v = row.value(Int32(i + 1))
            if !v.isNull { values[f.name] = v }
        }
        return Record(entity: e.name, id: row.text(0) ?? "", fields: values)
    }
}
