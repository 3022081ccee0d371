import KMKSync

/// A push batch read and encoded ahead of time but not yet recorded as in flight (see
/// ``Replica/preparePushBatch(after:maxCount:maxBytes:)``).
public struct PreparedPushBatch: Sendable {
    /// The push mark it was read after.
    public let after: Int64
    let changes: [Change]
    let encoded: EncodedChanges
    /// The last sequence number it covers.
    public let upTo: Int64
}
