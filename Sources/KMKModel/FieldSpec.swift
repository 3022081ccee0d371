/// One field of an entity, described once. The SQLite DDL, the CLI's validation, the export
/// and the CSV import are all derived from this description.
public struct FieldSpec: Hashable, Sendable {
    /// The field's name in SQL, on the command line, and in exports.
    public let name: String
    /// A stable small number that identifies the field in the change log. Never reused.
    public let number: Int
    /// What the field holds.
    public let kind: FieldKind
    /// Whether a new record must have it.
    public let required: Bool
    /// Personal data that stays in the replica: never in an outgoing change, a bundle or the hub.
    public let localOnly: Bool
    /// Other header names accepted by CSV import (Swedish spreadsheet headings).
    public let aliases: [String]
    /// One line of documentation.
    public let summary: String

    public init(
        _ name: String, _ number: Int, _ kind: FieldKind, required: Bool = false, localOnly: Bool = false,
        aliases: [String] = [], _ summary: String
    ) {
        self.name = name
        self.number = number
        self.kind = kind
        self.required = required
        self.localOnly = localOnly
        self.aliases = aliases
        self.summary = summary
    }
}
