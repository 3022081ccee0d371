import KMKModel

/// The `changes` array of a push body with each change encoded once.
///
/// A replica measures a batch by encoding its changes (to stay under the hub's byte limit); with
/// this it keeps those bytes, and ``PushBatch/body()`` sends them instead of encoding every change
/// a second time. The bytes are exactly those ``PushBatch/json(schema:)`` writes.
public struct EncodedChanges: Sendable {
    /// The changes' JSON, separated by `,\n`, without the brackets.
    public private(set) var bytes: [UInt8] = []
    /// How many changes it holds.
    public private(set) var count = 0
    /// Where each change's bytes (with the separator before it) begin.
    private var starts: [Int] = []

    public init() {}

    /// Appends one change; returns its size as a batch counts it: its JSON and a 2-byte separator.
    @discardableResult
    public mutating func append(_ change: Change, schema: Schema = .current) -> Int {
        starts.append(bytes.count)
        if count > 0 { bytes.append(contentsOf: ",\n".utf8) }
        let start = bytes.count
        change.appendJSON(to: &bytes, schema: schema)
        count += 1
        return bytes.count - start + 2
    }

    /// Removes the `k` changes appended last (those that would make the batch too big).
    public mutating func removeLast(_ k: Int = 1) {
        precondition(k >= 0 && k <= count, "removeLast(\(k)) of \(count) changes")
        guard k > 0 else { return }
        bytes.removeSubrange(starts[count - k]...)
        starts.removeLast(k)
        count -= k
    }
}
