import Foundation
import KMKModel

extension Replica {
    /// Writes a consistent copy of this replica to `path` (SPEC.md §10, `kmk-sync backup`). The
    /// copy is checked: it opens as a replica and holds the same change log. Refuses to overwrite
    /// a file unless `overwrite`.
    public func backup(to path: String, overwrite: Bool = false) throws {
        try db.backup(to: path, overwrite: overwrite)
        let copy = try Replica.open(at: path, schema: schema)
        defer { copy.close() }
        guard copy.replicaID == replicaID, copy.lastSeq == lastSeq else {
            throw ReplicaError(.internalError, "the backup at \(path) does not match the replica (sequence \(copy.lastSeq), expected \(lastSeq))")
        }
    }
}
