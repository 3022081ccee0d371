/// What can go wrong reading or checking sync data (changes, bundles, wire messages), with a
/// message a person can act on.
public struct SyncError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Broad classes of sync errors.
    public enum Kind: Hashable, Sendable {
        /// Malformed or invalid data: a change, a bundle, a message.
        case invalid
        /// Data for another municipality than this replica's.
        case wrongMunicipality
        /// Written by a newer kmk-sync.
        case newerFormat
        /// Damaged in transit or on disk: truncated, or its checksum does not match.
        case damaged
        /// Bigger than a configured limit.
        case tooLarge
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
