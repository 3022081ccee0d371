import KMKModel

/// Everything that can go wrong with a replica file or a hub store, with a message that says
/// what is wrong and what to do.
///
/// ``Kind`` groups the errors the way the command line reports them (each kind has one exit code).
public struct ReplicaError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Broad classes of errors.
    public enum Kind: Hashable, Sendable {
        /// The file or record does not exist.
        case notFound
        /// The file exists but is not a kmk-sync replica, is corrupt, or was made by a newer kmk-sync.
        case badFile
        /// Input (a value, an import file, a change) is invalid.
        case invalidData
        /// Another program holds the file; retry later.
        case busy
        /// The file cannot be created (it exists, or the folder is not writable).
        case cannotCreate
        /// The operating system refused access.
        case permission
        /// A remote change was refused (e.g. a clock too far ahead).
        case refused
        /// An unexpected SQLite error.
        case internalError
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
}
