import Foundation

/// Starts child processes one at a time, and tells when they end without relying on
/// Foundation's notice of it.
///
/// Foundation's `Process.run()` on Linux makes a socket pair per child and watches it from one
/// manager thread, which calls a blocking `waitpid` when the socket says the child ended. That
/// thread was seen blocked in `wait4` on a live hub: from then on no exit is noticed, every
/// `isRunning` stays true and every `waitUntilExit()` hangs, while the children are zombies
/// (fresh-clone CI once; `swift test` twice on a loaded machine, "did not finish within 60 s"
/// for one client run after another). Tests therefore start children through ``run(_:)``, so
/// spawns never overlap, and learn how a child ended from ``exit(of:)`` and ``wait(_:seconds:)``
/// (`waitid` without reaping), never from `waitUntilExit()`.
package enum ChildProcess {
    private static let lock = NSLock()

    /// Runs `process.run()` while no other test starts a process.
    package static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }

    /// Closes both ends of pipes a child wrote to, once they are read. Otherwise their
    /// descriptors stay open as long as the `Process` holding them lives, and Foundation keeps it
    /// until its manager thread notices the exit: a fresh-clone run reached 1,160 open pipes and
    /// then crashed twice in `Process.run()`, whose scan of `/proc/self/fd` over-reads the last
    /// entry of a long listing (swift-corelibs-foundation pull request 5472, not in Swift 6.3.1).
    package static func close(_ pipes: Pipe...) {
        for pipe in pipes {
            try? pipe.fileHandleForReading.close()
            try? pipe.fileHandleForWriting.close()
        }
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

extension ChildProcess {
    /// A child's exit status as Foundation reports it: the exit code, or the number of the signal
    /// that ended it (``Exit/signaled``).
    package struct Exit: Sendable, Equatable {
        package let status: Int32
        package let signaled: Bool
    }

    /// How `process` ended, or nil while it runs.
    ///
    /// Read with `waitid(…, WNOWAIT)`, which leaves the child for Foundation to reap: Foundation
    /// notices exits on one manager thread that calls a blocking `waitpid` per child, and that
    /// thread was seen stuck for minutes (every later `isRunning` stayed true while the children
    /// were zombies). Once Foundation has reaped the child, its own figures are used.
    package static func exit(of process: Process) -> Exit? {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(process.processIdentifier), &info, WEXITED | WNOHANG | WNOWAIT)
        if rc == 0 {
            guard info._sifields._sigchld.si_pid != 0 else { return nil }
            let status = info._sifields._sigchld.si_status
            return Exit(status: status, signaled: info.si_code != CLD_EXITED)
        }
        guard !process.isRunning else { return nil }
        return Exit(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal)
    }

    /// Waits at most `seconds` for `process` to end; nil if it still runs.
    package static func wait(_ process: Process, seconds: Double) -> Exit? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let exit = exit(of: process) { return exit }
            guard Date() < deadline else { return nil }
            usleep(2_000)
        }
    }
}
