import KMKModel

/// A change a replica received (in a pull page or a bundle) and cannot apply: an unknown entity or
/// field, a value its rules refuse, a record of another municipality. The replica keeps it, with
/// the reason, in its quarantine instead of refusing the whole page (SPEC.md §6), applies the
/// rest, and tries it again later (after an upgrade it may apply).
public struct QuarantinedChange: Hashable, Sendable {
    /// The change's JSON text as received (a page's change written back compactly, a bundle's line).
    public var text: String
    /// Why it cannot be applied, in words.
    public var reason: String
    /// What the change names, when it names it (for listings).
    public var entity: String?
    public var id: String?
    public var field: String?

    public init(text: String, reason: String, entity: String? = nil, id: String? = nil, field: String? = nil) {
        self.text = text
        self.reason = reason
        self.entity = entity
        self.id = id
        self.field = field
    }

    /// A change that did not decode: its JSON and the decoder's message.
    public init(json: JSONValue, reason: String) {
        self.init(text: json.text, reason: reason, entity: json["entity"]?.stringValue, id: json["id"]?.stringValue,
                  field: json["field"]?.stringValue)
    }

    /// A change that decoded but that this replica may not apply (another municipality's record).
    public init(_ change: Change, reason: String, schema: Schema = .current) {
        self.init(text: change.json(schema: schema), reason: reason, entity: change.entity, id: change.id, field: change.field)
    }
}
