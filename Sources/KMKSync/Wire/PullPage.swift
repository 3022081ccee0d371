import KMKModel

/// One page of changes from the hub (`GET /v1/changes`): the changes after the cursor the client
/// sent, in hub order, the cursor to send next, and whether more remain.
public struct PullPage: Hashable, Sendable {
    public var hub: String
    public var schema: Int
    public var changes: [Change]
    public var cursor: String
    public var more: Bool
    /// Changes of the page this replica cannot read with its schema (an unknown entity or field,
    /// an invalid value): set aside by the receiver, never a reason to refuse the page (SPEC.md §6).
    public var quarantined: [QuarantinedChange] = []

    public init(hub: String, schema: Int, changes: [Change], cursor: String, more: Bool) {
        self.hub = hub
        self.schema = schema
        self.changes = changes
        self.cursor = cursor
        self.more = more
    }

    public func json(schema spec: Schema = .current) -> String {
        String(decoding: body(schema: spec), as: UTF8.self)
    }

    /// The page's JSON as bytes (what the hub sends; ``json(schema:)`` as text).
    public func body(schema spec: Schema = .current) -> [UInt8] {
        let start = "{\"hub\":" + CanonicalJSON.string(hub) + ",\"schema\":\(schema),\"cursor\":" + CanonicalJSON.string(cursor)
            + ",\"more\":\(more),\"changes\":["
        var out: [UInt8] = []
        out.reserveCapacity(start.utf8.count + changes.count * 256)
        out.append(contentsOf: start.utf8)
        for (i, c) in changes.enumerated() {
            if i > 0 { out.append(contentsOf: ",\n".utf8) }
            c.appendJSON(to: &out, schema: spec)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// Reads a page straight from its bytes, when it has the common form: every member known
    /// and present once, every change valid. Nil otherwise; then read it with
    /// ``JSONValue/parse(_:)`` and ``init(json:schema:)``, which say precisely what is wrong (or
    /// accept it). When not nil, the page is the one those return.
    public init?(body: [UInt8], schema spec: Schema = .current) {
        var reader = WireReader(bytes: body, schema: spec)
        guard let page = try? reader.pullPage() else { return nil }
        self = page
    }

    /// The cursor and `more` of a page body, read from its start when they come before the
    /// changes (as this hub writes them; SPEC.md §11.3), without decoding the changes: a client
    /// asks for the next page with them while it decodes and applies this one. Nil when the body
    /// starts otherwise; the client then waits for the decoded page. Decoding the whole body
    /// gives the same cursor and `more` unless the body names them again after its changes (a
    /// client refuses such a page).
    public static func head(body: [UInt8]) -> (cursor: String, more: Bool)? {
        var reader = WireReader(bytes: body, schema: .current)
        return try? reader.pullHead()
    }

    public init(json: JSONValue, schema spec: Schema = .current) throws(SyncError) {
        guard let hub = json["hub"]?.stringValue, let schema = json["schema"]?.intValue,
              let cursor = json["cursor"]?.stringValue, case .bool(let more)? = json["more"],
              let raw = json["changes"]?.arrayValue else {
            throw SyncError(.invalid, "the hub's pull page lacks hub, schema, cursor, more or changes")
        }
        // A change this replica cannot read is set aside, never a reason to refuse the page.
        var quarantined: [QuarantinedChange] = []
        let changes = try PushBatch.decodeChanges(raw, schema: spec) { i, error in
            quarantined.append(QuarantinedChange(json: raw[i], reason: error.message))
        }
        self.init(hub: hub, schema: schema, changes: changes, cursor: cursor, more: more)
        self.quarantined = quarantined
    }
}
