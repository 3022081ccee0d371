import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a replica for one push, pull or sync run: an advisory `flock` on
/// `<replica>.lock`. The operating system drops it when the process ends, however it ends.
public final class ReplicaLock {
    private let fd: Int32
    public let path: String

    /// Takes the lock without waiting; throws ``ClientError/Kind/locked`` when another run has it.
    ///
    /// The descriptor becomes a property only once the lock is held: a class whose initializer
    /// throws after its properties are set is deinitialized, and `deinit` would close the
    /// descriptor a second time, maybe one another thread has opened meanwhile.
    public init(replicaPath: String) throws {
        let path = replicaPath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ClientError(.locked, "cannot create the lock file \(path) (\(String(cString: strerror(errno)))); "
                + "check that the replica's folder is writable")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ClientError(.locked, "another kmk-sync run is syncing this replica (it holds \(path)); "
                + "wait for it to finish and run again")
        }
        self.path = path
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
