import KMKSync

/// A request the hub refuses, with the HTTP status, the error code of the JSON body and a
/// message a person can act on (SPEC.md §11.6).
public struct HubError: Error, Hashable, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var expectedBatch: Int64?

    public init(_ status: Int, _ code: String, _ message: String, expectedBatch: Int64? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.expectedBatch = expectedBatch
    }

    public var description: String { "\(status) \(code): \(message)" }

    static func badRequest(_ message: String) -> HubError { HubError(400, "bad_request", message) }
    static func unauthorized(_ message: String) -> HubError { HubError(401, "unauthorized", message) }
    static func forbidden(_ message: String) -> HubError { HubError(403, "forbidden", message) }
    static func tooLarge(_ message: String) -> HubError { HubError(413, "too_large", message) }
}
