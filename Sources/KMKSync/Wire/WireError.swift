import KMKModel

/// An error body from the hub: `{"error":CODE,"message":TEXT,"hub":ID,"schema":V}`, with
/// `expected_batch` on a `batch_gap`. Codes are listed in SPEC.md §11.6.
public struct WireError: Error, Hashable, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var hub: String?
    public var schema: Int?
    public var expectedBatch: Int64?

    public init(status: Int, code: String, message: String, hub: String? = nil, schema: Int? = nil, expectedBatch: Int64? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.hub = hub
        self.schema = schema
        self.expectedBatch = expectedBatch
    }

    public func json() -> String {
        var out = "{\"error\":" + CanonicalJSON.string(code) + ",\"message\":" + CanonicalJSON.string(message)
        if let hub { out += ",\"hub\":" + CanonicalJSON.string(hub) }
        if let schema { out += ",\"schema\":\(schema)" }
        if let expectedBatch { out += ",\"expected_batch\":\(expectedBatch)" }
        return out + "}"
    }

    /// Reads an error body; nil when the body is not one (e.g. a proxy's HTML page).
    public init?(status: Int, body: String) {
        guard let json = try? JSONValue.parse(body), let code = json["error"]?.stringValue,
              let message = json["message"]?.stringValue else { return nil }
        self.init(status: status, code: code, message: message, hub: json["hub"]?.stringValue, schema: json["schema"]?.intValue,
                  expectedBatch: json["expected_batch"]?.intValue.map(Int64.init))
    }
}
