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
    private var lastStart = 0

    public init() {}

    /// Appends one change; returns its size as a batch counts it: its JSON and a 2-byte separator.
    @discardableResult
    public mutating func append(_ change: Change, schema: Schema = .current) -> Int {
        lastStart = bytes.count
        if count > 0 { bytes.append(contentsOf: ",\n".utf8) }
        let start = bytes.count
        change.appendJSON(to: &bytes, schema: schema)
        count += 1
        return bytes.count - start + 2
    }

    /// Removes the change appended last (the one that would make the batch too big). Only the
    /// last one can be removed.
    public mutating func removeLast() {
        precondition(count > 0 && lastStart <= bytes.count, "removeLast() after another removeLast() or on nothing")
        bytes.removeSubrange(lastStart...)
        count -= 1
        lastStart = bytes.count + 1  // a second removeLast() fails the precondition
    }
}
