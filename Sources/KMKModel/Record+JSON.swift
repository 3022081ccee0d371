extension Record {
    /// The record as one line of canonical JSON: `{"entity":…,"fields":{…},"id":…}`, fields
    /// sorted by name, NULL fields left out, booleans as true/false.
    public func canonicalJSON(schema: Schema = .current) -> String {
        let spec = schema.entity(entity)
        let members: [(String, String)] = fields.compactMap { name, value in
            if value.isNull { return nil }
            let kind = spec?.field(name)?.kind ?? .text(maxLength: .max)
            return (name, CanonicalJSON.value(value, kind: kind))
        }
        return CanonicalJSON.object([
            ("entity", CanonicalJSON.string(entity)),
            ("id", CanonicalJSON.string(id)),
            ("fields", CanonicalJSON.object(members)),
        ])
    }
}
