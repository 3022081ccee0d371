/// One live record: its entity, id and field values (NULL fields left out).
public struct Record: Hashable, Sendable {
    /// The entity name, e.g. `venue`.
    public var entity: String
    /// The record id.
    public var id: String
    /// Field values by field name. A missing field is NULL.
    public var fields: [String: Value]

    public init(entity: String, id: String, fields: [String: Value]) {
        self.entity = entity
        self.id = id
        self.fields = fields
    }

    /// The value of a field, NULL when absent.
    public subscript(field: String) -> Value {
        fields[field] ?? .null
    }
}
