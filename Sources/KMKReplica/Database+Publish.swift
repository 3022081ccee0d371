import Foundation
import KMKModel

extension Database {
    /// A hidden name in the folder of `path` where a new file is made whole before it is
    /// published under `path`: `.NAME.init-XXXXXXXX.partial`.
    static func sidePath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).init-\(RecordID.makeRandom().prefix(8)).partial").path
    }

    /// Gives the finished side file the name `path` without ever replacing a file there (a hard
    /// link, then the side name removed); where the file system has no hard links, a rename.
    /// `refusal` ends the message when `path` already exists.
    static func publish(_ side: String, as path: String, refusal: String) throws {
        if link(side, path) == 0 {
            unlink(side)
            return
        }
        let code = errno
        switch code {
        case EEXIST:
            throw ReplicaError(.cannotCreate, "\(path) already exists; \(refusal)")
        case EPERM, EXDEV, EOPNOTSUPP, EMLINK:
            guard !FileManager.default.fileExists(atPath: path), rename(side, path) == 0 else {
                throw ReplicaError(.cannotCreate, "cannot create \(path): \(String(cString: strerror(errno))); check the folder")
            }
        default:
            throw ReplicaError(.cannotCreate, "cannot create \(path): \(String(cString: strerror(code))); check the folder and its permissions")
        }
    }

    /// Refuses to make a new file at `path` while SQLite's `-wal` or `-shm` file of an earlier
    /// file there is left: SQLite would take the old file's last changes from it into the new one.
    static func refuseLeftovers(of path: String) throws {
        let left = ["-wal", "-shm"].map { path + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
        guard let first = left.first else { return }
        throw ReplicaError(.cannotCreate, "\(left.joined(separator: " and ")) \(left.count == 1 ? "is" : "are") left from an earlier file "
            + "at \(path): SQLite's \(first.hasSuffix("-wal") ? "write-ahead log" : "shared-memory index") of a replica that was "
            + "removed while in use, holding its last changes. A new file there would take them in. If that replica is "
            + "gone for good, delete \(left.joined(separator: " and ")); otherwise put its file back, or choose another path")
    }

    /// Removes a side file and its WAL and shared-memory files.
    static func removeSide(_ side: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: side + suffix) }
    }
}
