import KMKModel

/// One numbered batch of changes a replica pushes to the hub (`POST /v1/push`).
///
/// Body: `{"replica":UUID,"batch":N,"schema":V,"changes":[change, …]}` where each change has the
/// form of a bundle line (SPEC.md §6). Batch numbers start at 1 and go up by one per batch the
/// hub acknowledged.
public struct PushBatch: Hashable, Sendable {
    public var replica: String
    public var batch: Int64
    public var schema: Int
    public var changes: [Change] {
        didSet { encoded = nil }
    }
    /// The changes already encoded (by the replica, measuring the batch), or nil.
    private var encoded: [UInt8]?

    public init(replica: String, batch: Int64, schema: Int, changes: [Change]) {
        self.replica = replica
        self.batch = batch
        self.schema = schema
        self.changes = changes
    }

    /// A batch whose changes were encoded once already, in order, with the replica's schema:
    /// ``body()`` sends those bytes instead of encoding every change again.
    public init(replica: String, batch: Int64, schema: Int, changes: [Change], encoded: EncodedChanges) {
        precondition(encoded.count == changes.count, "encoded holds \(encoded.count) changes, the batch \(changes.count)")
        self.init(replica: replica, batch: batch, schema: schema, changes: changes)
        self.encoded = encoded.bytes
    }

    public static func == (a: PushBatch, b: PushBatch) -> Bool {
        a.replica == b.replica && a.batch == b.batch && a.schema == b.schema && a.changes == b.changes
    }

    public func hash(into h: inout Hasher) {
        h.combine(replica)
        h.combine(batch)
        h.combine(schema)
        h.combine(changes)
    }

    /// What identifies the batch's content, whatever its number: SHA-256 (hex) over each change's
    /// entity, id, field, clock and origin, in order. The hub keeps the digest of the last batch it
    /// applied for each replica, so a replica restored from a backup that sends other changes under
    /// a number already used is told to renumber (SPEC.md §11.4) instead of being acknowledged.
    public var digest: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(changes.count * 110)
        for c in changes {
            bytes.append(contentsOf: c.entity.utf8)
            bytes.append(0x1F)
            bytes.append(contentsOf: c.id.utf8)
            bytes.append(0x1F)
            bytes.append(contentsOf: c.field.utf8)
            bytes.append(0x1F)
            c.clock.appendHex(to: &bytes)
            bytes.append(0x1F)
            bytes.append(contentsOf: c.origin.utf8)
            bytes.append(0x0A)
        }
        return SHA256.hex(SHA256.hash(bytes))
    }

    /// The request body as text.
    public func json(schema spec: Schema = .current) -> String {
        String(decoding: body(schema: spec), as: UTF8.self)
    }

    /// The request body's bytes; the changes encoded once already (``EncodedChanges``) are
    /// copied as they are.
    public func body(schema spec: Schema = .current) -> [UInt8] {
        let start = "{\"replica\":" + CanonicalJSON.string(replica) + ",\"batch\":\(batch),\"schema\":\(schema),\"changes\":["
        var out: [UInt8] = []
        out.reserveCapacity(start.utf8.count + (encoded?.count ?? changes.count * 256) + 2)
        out.append(contentsOf: start.utf8)
        if let encoded {
            out.append(contentsOf: encoded)
        } else {
            for (i, c) in changes.enumerated() {
                if i > 0 { out.append(contentsOf: ",\n".utf8) }
                c.appendJSON(to: &out, schema: spec)
            }
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// Reads a push body straight from its bytes, when it has the common form: every member
    /// known and present once, every change valid. Nil otherwise; then read it with
    /// ``JSONValue/parse(_:)``, ``envelope(_:)`` and ``decodeChanges(_:schema:)``, which say
    /// precisely what is wrong (or accept it). When not nil, the batch is the one those return.
    public init?(body: [UInt8], schema spec: Schema = .current) {
        var reader = WireReader(bytes: body, schema: spec)
        guard let batch = try? reader.pushBatch() else { return nil }
        self = batch
    }

    /// Reads the envelope only: replica, batch and schema, and the raw changes. The changes are
    /// decoded by ``decodeChanges(_:schema:)`` once the schema version is known to match.
    public static func envelope(_ json: JSONValue) throws(SyncError) -> (replica: String, batch: Int64, schema: Int, changes: [JSONValue]) {
        guard case .object = json else { throw SyncError(.invalid, "the push body must be a JSON object, got \(json.typeName)") }
        guard let replica = json["replica"]?.stringValue, replica.count == 36, RecordID.isValid(replica) else {
            throw SyncError(.invalid, "\"replica\" must be the pushing replica's id (a UUID)")
        }
        guard case .number(let n)? = json["batch"], let batch = Int64(n), batch >= 1 else {
            throw SyncError(.invalid, "\"batch\" must be a whole number from 1")
        }
        guard let schema = json["schema"]?.intValue else {
            throw SyncError(.invalid, "\"schema\" must be the schema version the client speaks (a whole number)")
        }
        guard let changes = json["changes"]?.arrayValue else {
            throw SyncError(.invalid, "\"changes\" must be an array of changes")
        }
        return (replica.lowercased(), batch, schema, changes)
    }

    /// Decodes and checks every change; the error names the first bad one by its index.
    public static func decodeChanges(_ raw: [JSONValue], schema: Schema = .current) throws(SyncError) -> [Change] {
        try decodeChanges(raw, schema: schema) { (_: Int, error: SyncError) throws(SyncError) in throw error }
    }

    /// Decodes and checks every change, handing each that fails to `refused`, with its index and an
    /// error that names it (it may throw it, or keep it and go on: a receiver's quarantine).
    public static func decodeChanges(
        _ raw: [JSONValue], schema: Schema = .current, refused: (Int, SyncError) throws(SyncError) -> Void
    ) throws(SyncError) -> [Change] {
        var out: [Change] = []
        out.reserveCapacity(raw.count)
        for (i, item) in raw.enumerated() {
            do {
                out.append(try Change(json: item, schema: schema))
            } catch {
                try refused(i, SyncError(error.kind, "changes[\(i)]: \(error.message)"))
            }
        }
        return out
    }
}
