import KMKModel
import KMKSync

extension Replica {
    /// A bundle of the changes a peer lacks: those newer than the peer's last known version vector
    /// (learned from the peer's own bundles), or every change when `target` is nil or unknown.
    public func makeBundle(for target: String?) throws -> Bundle {
        let known = try target.map { try peerVector($0) } ?? [:]
        var changes: [Change] = []
        var after: Int64 = 0
        while true {
            let page = try self.changes(after: after, limit: 10_000)
            guard let last = page.last else { break }
            after = last.seq
            changes += page.map(\.change).filter { c in known[c.origin].map { c.clock > $0 } ?? true }
        }
        return Bundle(municipality: municipality.code, from: replicaID, target: target, created: lastClock,
                      vector: try versionVector(), changes: changes)
    }

    /// Verifies and applies a bundle, all or nothing, and remembers what its sender holds.
    @discardableResult
    public func applyBundle(_ text: String, file: String, maxDrift: UInt64 = Replica.defaultMaxDrift) throws -> ApplyResult {
        let bundle = try Bundle.decode(text, file: file, municipality: municipality.code, schema: schema)
        guard bundle.from != replicaID else {
            throw SyncError(.invalid, "\(file) was made by this replica; apply it on another one")
        }
        return try apply(bundle.changes, maxDrift: maxDrift, peer: (bundle.from, bundle.vector), quarantine: bundle.quarantined,
                         source: "bundle \(file.split(separator: "/").last.map(String.init) ?? file)")
    }

    /// The version vector last learned from a peer.
    func peerVector(_ peer: String) throws -> [String: HLC] {
        let rows = try db.cached("SELECT origin, hlc FROM kmk_peer WHERE peer = ?").rows([.text(peer)]) {
            ($0.text(0) ?? "", HLC(int64: $0.int64(1)))
        }
        return Dictionary(rows, uniquingKeysWith: { max($0, $1) })
    }

    func savePeerVector(_ peer: String, _ vector: [String: HLC]) throws {
        for (origin, clock) in vector {
            try db.cached("""
                INSERT INTO kmk_peer (peer, origin, hlc) VALUES (?, ?, ?)
                ON CONFLICT (peer, origin) DO UPDATE SET hlc = max(hlc, excluded.hlc)
                """).run([.text(peer), .text(origin), .integer(clock.int64)])
        }
    }
}
