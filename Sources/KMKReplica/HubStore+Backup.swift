import Foundation
import KMKModel

extension HubStore {
    /// Writes a consistent copy of the hub store to `path` while the hub keeps serving (SQLite's
    /// online backup API, SPEC.md §11). The copy is checked by opening it as a hub store.
    public func backup(to path: String, overwrite: Bool = false) throws {
        try db.backup(to: path, overwrite: overwrite)
        let copy = try HubStore.open(at: path, schema: schema)
        defer { copy.close() }
        guard copy.hubID == hubID else {
            throw ReplicaError(.internalError, "the backup at \(path) is not of hub \(hubID)")
        }
    }
}
