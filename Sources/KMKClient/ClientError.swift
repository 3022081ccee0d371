/// What can go wrong talking to the hub, with a message that says what to do.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The hub cannot be reached, or kept failing (5xx) after the retries.
        case unavailable
        /// The token is missing, wrong or revoked (401), or the token file is unsafe.
        case unauthorized
        /// The token may not do this (403).
        case forbidden
        /// Another kmk-sync run holds the replica.
        case locked
        /// No hub URL or token is configured.
        case notConfigured
        /// The hub refused the request (schema mismatch, clock ahead, a malformed change).
        case refused
        /// The hub answered something that does not follow the protocol.
        case protocolError
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
