import CSQLite
import Foundation
import KMKModel

extension Database {
    /// Copies this database into a new file at `path` with SQLite's online backup API: a
    /// consistent snapshot, taken while other connections keep reading and writing. The copy is
    /// written beside `path` first and renamed into place, so a failed backup leaves no file.
    /// An existing file at `path` is refused unless `overwrite`.
    func backup(to path: String, overwrite: Bool) throws {
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw ReplicaError(.cannotCreate, "\(path) already exists; choose another name, or pass --force to replace it")
        }
        let temporary = path + ".part-\(getpid())"
        try? FileManager.default.removeItem(atPath: temporary)
        var target: OpaquePointer?
        guard sqlite3_open_v2(temporary, &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            let message = target.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(target)
            throw ReplicaError(.cannotCreate, "cannot create the backup \(path): \(message)")
        }
        var ok = false
        defer {
            sqlite3_close_v2(target)
            if !ok { try? FileManager.default.removeItem(atPath: temporary) }
        }
        guard let backup = sqlite3_backup_init(target, "main", handle, "main") else {
            throw ReplicaError(.cannotCreate, "cannot start the backup of \(self.path): \(String(cString: sqlite3_errmsg(target)))")
        }
        var rc: Int32
        var waits = 0
        repeat {
            rc = sqlite3_backup_step(backup, 256)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                waits += 1
                if waits > 600 { break }
                usleep(50_000)
            }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw ReplicaError(rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? .busy : .cannotCreate,
                               "the backup of \(self.path) failed: \(String(cString: sqlite3_errstr(rc))); nothing was written to \(path)")
        }
        // The copy is a plain rollback-journal file, complete in itself.
        guard sqlite3_exec(target, "PRAGMA journal_mode = DELETE", nil, nil, nil) == SQLITE_OK else {
            throw ReplicaError(.cannotCreate, "the backup \(path) could not be finished: \(String(cString: sqlite3_errmsg(target)))")
        }
        sqlite3_close_v2(target)
        target = nil
        guard rename(temporary, path) == 0 else {
            throw ReplicaError(.cannotCreate, "cannot move the backup into place at \(path): \(String(cString: strerror(errno)))")
        }
        ok = true
    }
}
