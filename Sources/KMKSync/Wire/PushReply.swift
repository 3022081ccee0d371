import KMKModel

/// The hub's answer to a push batch it accepted (HTTP 200).
///
/// `duplicate` is true when the hub had already applied this batch number (or a later one) for
/// the replica: nothing was written. `lastBatch` is the newest batch number the hub holds for
/// the replica; a client that sees `duplicate` with `lastBatch` above its own batch number
/// knows it was restored from an older copy (SPEC.md §11.4).
public struct PushReply: Hashable, Sendable {
    public var hub: String
    public var schema: Int
    public var batch: Int64
    public var duplicate: Bool
    public var lastBatch: Int64
    public var applied: Int
    public var ignored: Int

    public init(hub: String, schema: Int, batch: Int64, duplicate: Bool, lastBatch: Int64, applied: Int, ignored: Int) {
        self.hub = hub
        self.schema = schema
        self.batch = batch
        self.duplicate = duplicate
        self.lastBatch = lastBatch
        self.applied = applied
        self.ignored = ignored
    }

    public func json() -> String {
        "{\"hub\":" + CanonicalJSON.string(hub) + ",\"schema\":\(schema),\"batch\":\(batch),\"duplicate\":\(duplicate)"
            + ",\"last_batch\":\(lastBatch),\"applied\":\(applied),\"ignored\":\(ignored)}"
    }

    public init(json: JSONValue) throws(SyncError) {
        guard let hub = json["hub"]?.stringValue, let schema = json["schema"]?.intValue,
              let batch = json["batch"]?.intValue, case .bool(let duplicate)? = json["duplicate"],
              let lastBatch = json["last_batch"]?.intValue else {
            throw SyncError(.invalid, "the hub's push reply lacks hub, schema, batch, duplicate or last_batch")
        }
        self.init(hub: hub, schema: schema, batch: Int64(batch), duplicate: duplicate, lastBatch: Int64(lastBatch),
                  applied: json["applied"]?.intValue ?? 0, ignored: json["ignored"]?.intValue ?? 0)
    }
}
