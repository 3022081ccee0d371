import Foundation

/// Starts child processes one at a time.
///
/// Foundation's `Process.run()` on Linux makes a socket pair per child and watches it from one
/// manager thread, which calls a blocking `waitpid` when the socket says the child ended. When
/// suites start children on several threads at once, a socket end can be closed or inherited by
/// the wrong spawn; the manager thread then blocks in `waitpid` on a child that is still running
/// (a hub), and no exit is noticed again: every later `waitUntilExit()` hangs (seen once in a
/// fresh-clone CI run: three exited children left as zombies, the manager thread in `wait4` on a
/// live hub). Every test that starts a process goes through ``run(_:)``, so spawns never overlap.
package enum ChildProcess {
    private static let lock = NSLock()

    /// Runs `process.run()` while no other test starts a process.
    package static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }
}

extension ChildProcess {
    /// Everything a child writes to `handle` (a pipe's reading end) until it closes it.
    ///
    /// Foundation's `readDataToEndOfFile()` and `availableData` stop the whole test process with
    /// a `try!` when `read` fails, and it does fail with EINTR when a signal arrives during it
    /// (seen in two full runs on a loaded machine: "Interrupted system call" in `CLI.run`). This
    /// reads with `read(2)` and retries on EINTR.
    package static func readAll(_ handle: FileHandle) -> Data {
        var data = Data()
        while let chunk = readSome(handle) { data += chunk }
        return data
    }

    /// The next bytes from `handle`, or nil at end of file (or on an error other than EINTR).
    package static func readSome(_ handle: FileHandle) -> Data? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n > 0 { return Data(buffer[0..<n]) }
            if n < 0, errno == EINTR { continue }
            return nil
        }
    }
}
