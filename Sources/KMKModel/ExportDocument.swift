/// The export format: every live record of a replica as canonical JSON.
///
/// ```
/// {"format":"kmk-sync-export","municipality":"0484","schema":1,"records":[
/// {"entity":"venue","fields":{"membership":"member","name":"Krogen Exempel"},"id":"…"},
/// …
/// ]}
/// ```
/// Records are sorted by entity name, then id; each record is one line; fields are sorted by
/// name and NULL fields are left out. Two replicas holding the same data write the same bytes.
/// The same format is read by `kmk-sync import` and is used for the fixtures.
public struct ExportDocument: Hashable, Sendable {
    /// The format name written in the file.
    public static let formatName = "kmk-sync-export"

    /// The municipality whose replica wrote it, if any.
    public var municipality: String?
    /// The schema version of the records.
    public var schemaVersion: Int
    /// The records.
    public var records: [Record]

    public init(municipality: String?, schemaVersion: Int = Schema.current.version, records: [Record]) {
        self.municipality = municipality
        self.schemaVersion = schemaVersion
        self.records = records
    }

    /// The canonical text.
    public func encoded(schema: Schema = .current) -> String {
        let sorted = records.sorted {
            $0.entity != $1.entity ? utf8Less($0.entity, $1.entity) : utf8Less($0.id, $1.id)
        }
        var out = "{\"format\":\"\(Self.formatName)\",\"municipality\":"
        out += municipality.map(CanonicalJSON.string) ?? "null"
        out += ",\"schema\":\(schemaVersion),\"records\":["
        for (i, r) in sorted.enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += r.canonicalJSON(schema: schema)
        }
        out += "\n]}\n"
        return out
    }

    /// Reads an export file. Every record is checked against the schema; errors name the file,
    /// the line, the record and the field.
    public static func decode(_ text: String, file: String, schema: Schema = .current) throws(ModelError) -> ExportDocument {
        func fail(_ message: String, line: Int? = nil) -> ModelError {
            ModelError(.invalidDocument, "\(file)\(line.map { ":\($0)" } ?? ""): \(message)")
        }
        let top: JSONValue
        do {
            top = try JSONValue.parse(text)
        } catch {
            throw fail("not valid JSON (\(error.reason))", line: error.line)
        }
        guard top["format"]?.stringValue == formatName else {
            throw fail("not a kmk-sync export: the top-level \"format\" must be \"\(formatName)\"")
        }
        guard let version = top["schema"]?.intValue else { throw fail("missing \"schema\" version") }
        guard version <= schema.version else {
            throw fail("written by a newer kmk-sync (schema \(version), this one reads up to \(schema.version)); upgrade kmk-sync")
        }
        guard case .array(let rawRecords)? = top["records"], case .object(let topMembers) = top else {
            throw fail("missing \"records\" array")
        }
        let recordsLine = topMembers.first { $0.key == "records" }?.line ?? 1
        var records: [Record] = []
        for (index, raw) in rawRecords.enumerated() {
            let at = "record \(index + 1)"
            guard case .object(let members) = raw else { throw fail("\(at) is not an object", line: recordsLine) }
            let lineNo = members.first?.line ?? recordsLine
            guard let entityName = raw["entity"]?.stringValue else {
                throw fail("\(at) has no \"entity\"", line: lineNo)
            }
            guard let entity = schema.entity(entityName) else {
                throw fail("\(at): \(ModelError.unknownEntity(entityName, in: schema).message)", line: lineNo)
            }
            let id = raw["id"]?.stringValue ?? ""
            guard RecordID.isValid(id) else {
                throw fail("\(at) (\(entityName)): \"id\" must be a UUID (a kommunkod for municipality), got '\(id)'",
                           line: lineNo)
            }
            var fields: [String: Value] = [:]
            if let rawFields = raw["fields"] {
                guard case .object(let fieldMembers) = rawFields else {
                    throw fail("\(at) (\(entityName) \(id)): \"fields\" must be an object", line: lineNo)
                }
                for member in fieldMembers {
                    guard let spec = entity.field(member.key) else {
                        throw fail("\(at) (\(entityName) \(id)): \(ModelError.unknownField(member.key, of: entity).message)",
                                   line: member.line)
                    }
                    do {
                        let v = try spec.check(spec.value(fromJSON: member.value))
                        if !v.isNull { fields[member.key] = v }
                    } catch {
                        throw fail("\(at) (\(entityName) \(id)): \(error.message)", line: member.line)
                    }
                }
            }
            records.append(Record(entity: entityName, id: id.lowercased(), fields: fields))
        }
        return ExportDocument(municipality: top["municipality"]?.stringValue, schemaVersion: version, records: records)
    }
}

extension FieldSpec {
    /// The stored value of a JSON value written for this field (as in an export or a change).
    public func value(fromJSON json: JSONValue) throws(ModelError) -> Value {
        switch (kind, json) {
        case (_, .null): return .null
        case (.bool, .bool(let b)): return .integer(b ? 1 : 0)
        case (.integer, .number(let s)):
            guard let i = Int64(s) else { throw invalid(s, "not a whole number") }
            return .integer(i)
        case (.real, .number(let s)):
            guard let d = Double(s), d.isFinite else { throw invalid(s) }
            return .real(d)
        case (.text, .string(let s)), (.date, .string(let s)), (.choice, .string(let s)), (.set, .string(let s)),
            (.reference, .string(let s)), (.period, .string(let s)), (.orgNumber, .string(let s)):
            return .text(s)
        default:
            throw ModelError(.invalidValue, "field '\(name)' got \(json.typeName); it takes \(kind.allowed)")
        }
    }
}
