/// One kind of record (venue, training, round, ...), described once.
public struct EntitySpec: Hashable, Sendable {
    /// Who owns the records of an entity.
    public enum Scope: String, Hashable, Sendable {
        /// Each record belongs to one municipality and is written by its replicas.
        case municipal
        /// National reference data, written only by the styrgrupp and read by everyone.
        case national
    }

    /// How new ids are made.
    public enum Identity: Hashable, Sendable {
        /// A random UUID made on the replica.
        case random
        /// The municipality's kommunkod: one record per municipality.
        case municipalityCode
    }

    /// The entity's name in SQL (the table), on the command line and in exports.
    public let name: String
    /// A stable small number that identifies the entity in the change log. Never reused.
    public let number: Int
    /// Who owns its records.
    public let scope: Scope
    /// How new ids are made.
    public let identity: Identity
    /// The fields, in display order. The id is not a field.
    public let fields: [FieldSpec]
    /// The field that names the record in lists (e.g. a venue's name).
    public let titleField: String
    /// One line of documentation.
    public let summary: String

    public init(
        _ name: String, _ number: Int, scope: Scope = .municipal, identity: Identity = .random,
        title: String, _ summary: String, fields: [FieldSpec]
    ) {
        self.name = name
        self.number = number
        self.scope = scope
        self.identity = identity
        self.titleField = title
        self.summary = summary
        self.fields = fields
    }

    /// The field with this name, if any.
    public func field(_ name: String) -> FieldSpec? {
        fields.first { $0.name == name }
    }

    /// The field with this number, if any.
    public func field(number: Int) -> FieldSpec? {
        fields.first { $0.number == number }
    }

    /// The fields that are synced (not local-only).
    public var syncedFields: [FieldSpec] {
        fields.filter { !$0.localOnly }
    }

    /// The fields that point at other records.
    public var referenceFields: [FieldSpec] {
        fields.filter { if case .reference = $0.kind { return true } else { return false } }
    }
}
