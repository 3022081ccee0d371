import Foundation
import KMKModel

extension Replica {
    /// Writes a consistent copy of this replica to `path` (SPEC.md §10, `kmk-sync backup`). The
    /// copy is checked: it opens as a replica and holds the same change log. Refuses to overwrite
    /// a file unless `overwrite`.
    public func backup(to path: String, overwrite: Bool = false) throws {
        try db.backup(to: path, overwrite: overwrite)
        // Opened as it is: a copy under another inode would otherwise take a replica id of its
        // own (SPEC.md §2), which the backup takes only once it is restored.
        let copy = try Replica.open(at: path, schema: schema, now: now, busyTimeoutMillis: 5_000, checkingIdentity: false)
        defer { copy.close() }
        guard copy.replicaID == replicaID, copy.lastSeq == lastSeq else {
            throw ReplicaError(.internalError, "the backup at \(path) does not match the replica (sequence \(copy.lastSeq), expected \(lastSeq))")
        }
    }
}
