import KMKModel

extension Change {
    /// The change as one line of JSON, its members in this fixed order:
    /// `{"entity":…,"id":…,"field":…,"value":…,"clock":"16 hex","origin":…,"base":"16 hex","municipality":…}`.
    /// Values are written as in an export (yes/no as true/false); a lifecycle value is an integer.
    public func json(schema: Schema = .current) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        appendJSON(to: &out, schema: schema)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the UTF-8 bytes of ``json(schema:)`` to `out` (no intermediate strings).
    public func appendJSON(to out: inout [UInt8], schema: Schema = .current) {
        let kind = isLifecycle ? FieldKind.integer(min: 0, max: .max)
            : schema.entity(entity)?.field(field)?.kind ?? .text(maxLength: .max)
        out.append(contentsOf: #"{"entity":"#.utf8)
        CanonicalJSON.append(string: entity, to: &out)
        out.append(contentsOf: #","id":"#.utf8)
        CanonicalJSON.append(string: id, to: &out)
        out.append(contentsOf: #","field":"#.utf8)
        CanonicalJSON.append(string: field, to: &out)
        out.append(contentsOf: #","value":"#.utf8)
        CanonicalJSON.append(value: value, kind: kind, to: &out)
        out.append(contentsOf: #","clock":""#.utf8)
        clock.appendHex(to: &out)
        out.append(contentsOf: #"","origin":"#.utf8)
        CanonicalJSON.append(string: origin, to: &out)
        out.append(contentsOf: #","base":""#.utf8)
        base.appendHex(to: &out)
        out.append(contentsOf: #"","municipality":"#.utf8)
        if let municipality { CanonicalJSON.append(string: municipality, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "}"))
    }

    /// Reads and checks one change: the entity and field must exist and be synced (a local-only
    /// field is refused), the value must be valid for the field, a municipal record must name a
    /// municipality and a national one must not.
    public init(json: JSONValue, schema: Schema = .current) throws(SyncError) {
        func fail(_ why: String) -> SyncError { SyncError(.invalid, "invalid change: \(why)") }
        guard case .object = json else { throw fail("expected a JSON object, got \(json.typeName)") }
        guard let entityName = json["entity"]?.stringValue else { throw fail("missing \"entity\"") }
        guard let spec = schema.entity(entityName) else {
            throw fail("unknown entity '\(entityName.prefix(60))'; known: \(schema.entityNames.joined(separator: ", "))")
        }
        guard let id = json["id"]?.stringValue, RecordID.isValid(id) else {
            throw fail("\"id\" must be a record id (UUID or kommunkod)")
        }
        guard let field = json["field"]?.stringValue else { throw fail("missing \"field\"") }
        guard let clockText = json["clock"]?.stringValue, let clock = HLC(hex: clockText) else {
            throw fail("\"clock\" must be 16 hexadecimal digits, at most 7fffffffffffffff")
        }
        guard let origin = json["origin"]?.stringValue, RecordID.isValid(origin), origin.utf8.count == 36 else {
            throw fail("\"origin\" must be a replica id (a UUID)")
        }
        var base = HLC.zero
        if let b = json["base"], b != .null {
            guard let text = b.stringValue, let parsed = HLC(hex: text) else { throw fail("\"base\" must be 16 hexadecimal digits, at most 7fffffffffffffff") }
            base = parsed
        }
        let municipality = json["municipality"]?.stringValue
        switch spec.scope {
        case .municipal:
            guard let m = municipality, Municipality.byCode[m] != nil else {
                throw fail("\(entityName) records belong to a municipality; \"municipality\" must be a kommunkod")
            }
        case .national:
            guard municipality == nil else { throw fail("\(entityName) is national data; \"municipality\" must be null") }
        }
        let value: Value
        if field == Change.lifecycleField {
            guard case .number(let n)? = json["value"], let cl = Int64(n), cl >= 1 else {
                throw fail("a lifecycle change's value is a causal length, a whole number from 1")
            }
            value = .integer(cl)
        } else {
            guard let f = spec.field(field) else {
                throw fail("\(entityName) has no field '\(field.prefix(60))'")
            }
            guard !f.localOnly else {
                throw fail("\(entityName).\(field) is local-only (personal data) and never travels between replicas")
            }
            do {
                value = try f.check(f.value(fromJSON: json["value"] ?? .null))
            } catch {
                throw fail("\(entityName) \(id): \(error.message)")
            }
        }
        self.init(entity: spec.name, id: Change.lowercased(id), field: field, value: value, clock: clock,
                  origin: Change.lowercased(origin), base: base, municipality: municipality)
    }

    /// `text` in lower case; the same string, not a new one, when it has no capital ASCII letter
    /// (ids travel in lower case, so almost always).
    static func lowercased(_ text: String) -> String {
        func capital(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for b in bytes where b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { return true }
            return false
        }
        let hasCapital = text.utf8.withContiguousStorageIfAvailable(capital)
            ?? text.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        return hasCapital ? text.lowercased() : text
    }
}
