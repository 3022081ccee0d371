import KMKModel
import KMKSync

/// A hub token as listed (never the token itself, which is shown once when created).
public struct HubToken: Hashable, Sendable {
    public var id: String
    public var scope: HubScope
    public var label: String?
    public var createdAt: UInt64
    public var revokedAt: UInt64?
}

extension HubStore {
    /// Creates a token and returns it with its id. Only its SHA-256 is stored, so the token
    /// cannot be shown again.
    public func createToken(scope: HubScope, label: String?) throws -> (id: String, token: String) {
        var g = SystemRandomNumberGenerator()
        let id = String(format6(g.next() & 0xFFFF_FFFF))
        var secret = "kmk_"
        for _ in 0..<4 { secret += hex64(g.next()) }
        try db.cached("INSERT INTO hub_token (id, hash, scope, label, created_at) VALUES (?, ?, ?, ?, ?)")
            .run([.text(id), .text(SHA256.hex(secret)), .text(scope.text), label.map(Value.text) ?? .null, .integer(Int64(now()))])
        return (id, secret)
    }

    /// All tokens, oldest first.
    public func tokens() throws -> [HubToken] {
        try db.cached("SELECT id, scope, label, created_at, revoked_at FROM hub_token ORDER BY created_at, id").rows { row in
            HubToken(id: row.text(0) ?? "", scope: HubScope(text: row.text(1) ?? "") ?? .styrgrupp, label: row.text(2),
                     createdAt: UInt64(row.int64(3)), revokedAt: row.isNull(4) ? nil : UInt64(row.int64(4)))
        }
    }

    /// Revokes a token: it gets 401 from now on. Revoking twice is not an error.
    public func revokeToken(id: String) throws {
        try db.cached("UPDATE hub_token SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?").run([.integer(Int64(now())), .text(id)])
        guard db.changes > 0 else {
            throw ReplicaError(.notFound, "no token with id \(id); list them with: kmk-sync hub token list --db \(path)")
        }
    }

    /// The scope of a valid, unrevoked token, or nil.
    public func authenticate(_ token: String) throws -> HubScope? { try identify(token)?.scope }

    /// The id and scope of a valid, unrevoked token, or nil.
    public func identify(_ token: String) throws -> (id: String, scope: HubScope)? {
        guard token.hasPrefix("kmk_"), token.utf8.count == 68 else { return nil }
        return try db.cached("SELECT id, scope FROM hub_token WHERE hash = ? AND revoked_at IS NULL")
            .first([.text(SHA256.hex(token))]) { row in HubScope(text: row.text(1) ?? "").map { (row.text(0) ?? "", $0) } } ?? nil
    }

    private func hex64(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    private func format6(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return "t" + String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
