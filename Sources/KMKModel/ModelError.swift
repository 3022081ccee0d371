/// What was wrong with data given to the model: a field value, an entity name, a file's content.
///
/// The message names what is wrong and what is allowed, so a coordinator can fix the input.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Broad classes of model errors, for callers that react differently to each.
    public enum Kind: Hashable, Sendable {
        case unknownEntity
        case unknownField
        case invalidValue
        case missingField
        case invalidDocument
        case unknownMunicipality
    }

    /// What class of problem this is.
    public let kind: Kind
    /// A message a person can act on.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func unknownEntity(_ name: String, in schema: Schema = .current) -> ModelError {
        ModelError(.unknownEntity,
                   "unknown entity '\(name)'; known entities: \(schema.entityNames.joined(separator: ", "))")
    }

    static func unknownField(_ name: String, of entity: EntitySpec) -> ModelError {
        let names = ["id"] + entity.fields.map(\.name)
        return ModelError(.unknownField,
                          "\(entity.name) has no field '\(name)'; its fields are: \(names.joined(separator: ", "))")
    }
}
