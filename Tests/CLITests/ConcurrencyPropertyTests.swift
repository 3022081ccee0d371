import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// Several real kmk-sync processes and sqlite3 clients on one replica at once, syncing through a
/// real hub, some syncs killed (SPEC.md §2 "Several programs on one file", §4 "The push mark").
/// The oracle: every write committed to a replica file, by whatever path, reaches every replica of
/// the municipality, and `check` passes everywhere.
///
/// `KMK_CONCURRENCY_ROUNDS=N` sets the rounds (default 8); `KMK_CONCURRENCY_SEED=N` replays a
/// printed seed (the schedule; where a kill lands still depends on the machine's speed).
@Suite("concurrency (property, real processes)", .serialized)
struct ConcurrencyPropertyTests {
    /// One process of a round: what it is, and what it wrote if it exits 0.
    struct Job {
        let process: Process
        /// The venue name it creates, or the (name, address) it writes.
        var created: String?
        var addressed: (name: String, address: String)?
        var killAfterMillis: Int?
    }

    func sqlite3(_ file: String, _ sql: String) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // A 10 s busy timeout, as a careful user of the sqlite3 shell would set.
        p.arguments = ["sqlite3", "-batch", "-bail", "-cmd", ".timeout 10000", file, sql]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        return p
    }

    @Test("venue adds, sqlite3 inserts and updates, syncs (some killed) on one replica: every committed write reaches every replica")
    func concurrentWritersAndSyncs() throws {
        let seed = SplitMix64.seed(from: "KMK_CONCURRENCY_SEED")
        let rounds = Int(ProcessInfo.processInfo.environment["KMK_CONCURRENCY_ROUNDS"] ?? "") ?? 8
        print("ConcurrencyPropertyTests seed \(seed) (replay: KMK_CONCURRENCY_SEED=\(seed)), rounds \(rounds)")
        var rng = SplitMix64(seed: seed)
        var cli = try CLI()
        cli.environment["KMK_BUSY_TIMEOUT_MS"] = "10000"
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let a = try cli.replica("a.kmk", "0484", hub: hub, token: token)
        let b = try cli.replica("b.kmk", "0484", hub: hub, token: token)

        var names: Set<String> = []
        var addresses: [String: String] = [:]
        var updatable: [String] = []  // names inserted by sqlite3 and never updated yet
        var kills = 0, busy = 0, processes = 0
        let started = Date()
        for round in 0..<rounds {
            var jobs: [Job] = []
            func kmk(_ args: [String], created: String? = nil, kill: Int? = nil) throws {
                jobs.append(Job(process: try cli.spawn(args), created: created, addressed: nil, killAfterMillis: kill))
            }
            let order = (0..<6).map { _ in rng.next() % 6 }
            for (i, kind) in order.enumerated() {
                let tag = "r\(round)-\(i)"
                switch kind {
                case 0, 1:
                    try kmk(["venue", "add", "name=Krog \(tag)", "membership=member", "--replica", a], created: "Krog \(tag)")
                case 2:
                    let p = sqlite3(a, "INSERT INTO venue (id, name, membership) VALUES (lower(hex(randomblob(4))) || '-0000-4000-8000-' "
                        + "|| lower(hex(randomblob(6))), 'Sql \(tag)', 'member')")
                    try ChildProcess.run(p)
                    jobs.append(Job(process: p, created: "Sql \(tag)"))
                case 3 where !updatable.isEmpty:
                    let name = updatable.remove(at: Int(rng.next() % UInt64(updatable.count)))
                    let p = sqlite3(a, "UPDATE venue SET address = 'Gata \(tag)' WHERE name = '\(name)'")
                    try ChildProcess.run(p)
                    jobs.append(Job(process: p, addressed: (name, "Gata \(tag)")))
                case 4:
                    // A sync, killed now and then at a random point.
                    let kill = rng.next() % 3 == 0 ? Int(rng.next() % 400) : nil
                    try kmk(["sync", "--replica", a], kill: kill)
                default:
                    let command = [["status"], ["check", "--offline"], ["export", "--out", cli.path("e-\(tag).json")]][Int(rng.next() % 3)]
                    try kmk(command + ["--replica", a])
                }
            }
            // The colleague's replica works meanwhile.
            try kmk(["venue", "add", "name=Kollega \(round)", "membership=member", "--replica", b], created: "Kollega \(round)")
            try kmk(["sync", "--replica", b])
            processes += jobs.count
            let begun = Date()
            for job in jobs {
                if let ms = job.killAfterMillis {
                    let wait = Double(ms) / 1000 - Date().timeIntervalSince(begun)
                    if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
                    if ChildProcess.exit(of: job.process) == nil {
                        kill(job.process.processIdentifier, SIGKILL)
                        kills += 1
                    }
                }
            }
            for job in jobs {
                guard let exit = ChildProcess.wait(job.process, seconds: 90) else {
                    kill(job.process.processIdentifier, SIGKILL)
                    Issue.record("a process of round \(round) did not finish within 90 s: \(job.process.arguments ?? [])")
                    continue
                }
                if exit.status == 75 { busy += 1 }
                guard exit.status == 0 else { continue }
                if let name = job.created {
                    names.insert(name)
                    if name.hasPrefix("Sql ") { updatable.append(name) }
                }
                if let (name, address) = job.addressed { addresses[name] = address }
            }
        }
        // Then every replica syncs, without kills, until both are in step (at most 4 rounds).
        for _ in 0..<4 {
            for r in [a, b, a] {
                let s = try cli.run("sync", "--replica", r)
                #expect(s.status == 0, "\(s.stderr)")
            }
        }
        print("ConcurrencyPropertyTests seed \(seed): \(rounds) rounds, \(processes) processes, \(kills) syncs killed, "
            + "\(busy) exits 75, \(names.count) venues and \(addresses.count) address updates committed, "
            + String(format: "%.1f s", Date().timeIntervalSince(started)))
        for r in [a, b] {
            let list = try cli.run("venue", "list", "--json", "--replica", r).stdout
            let missing = names.filter { !list.contains("\"\($0)\"") }
            #expect(missing.isEmpty, "seed \(seed): \(r) lacks \(missing.sorted())")
            for (name, address) in addresses {
                let line = list.split(separator: "\n").first { $0.contains("\"\(name)\"") } ?? ""
                #expect(line.contains("\"\(address)\""), "seed \(seed): \(r): \(name) lacks its address \(address): \(line)")
            }
            let check = try cli.run("check", "--replica", r)
            #expect(check.status == 0, "seed \(seed): check of \(r): \(check.stdout) \(check.stderr)")
        }
    }
}
