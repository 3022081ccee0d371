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
