import Foundation
import KMKTestSupport
import KMKModel
import Testing

/// Crash safety (issue 6): `push`, `pull`, `sync`, `bundle create` and `bundle apply` run as
/// real `kmk-sync` processes and are killed with SIGKILL after a random delay; so is the hub,
/// in the middle of a client's transfer. After every kill the files are checked
/// (`PRAGMA integrity_check`, the change log's sequence numbers, the push and pull state against
/// the hub's), and the operation is re-run to completion. At the end every replica syncs, and
/// the test checks that the replicas of each municipality and the hub hold exactly the edits
/// made: none lost, none duplicated.
///
/// The default run makes at least 200 kills; `KMK_LONG_TESTS=1` makes 2,000. The seed is printed;
/// `KMK_CRASH_SEED=N` replays the same schedule (edits, operations and delays; where a delay
/// lands inside a process still depends on the machine's speed).
@Suite("crash safety", .serialized)
struct CrashSafetyTests {
    static let environment = ProcessInfo.processInfo.environment
    static let long = environment["KMK_LONG_TESTS"] == "1"
    static let targetKills = Int(environment["KMK_CRASH_KILLS"] ?? "") ?? (long ? 2_000 : 200)
    static let seed = UInt64(environment["KMK_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))

    /// What a run did, handed back from its thread.
    struct Outcome: Sendable {
        var stats: CrashRun.Stats
        var failures: [String]
        var steps: Int
        var seconds: Double
    }

    @Test("SIGKILL at random points of push, pull, sync, bundle create/apply and of the hub: nothing lost, duplicated or corrupt")
    func killsAnywhere() async throws {
        print("crash safety: seed \(Self.seed), \(Self.targetKills) kills (replay: KMK_CRASH_SEED=\(Self.seed))")
        let o = try await Self.onThread { () throws -> Outcome in
            let setUpStart = Date()
            let run = try CrashRun(seed: Self.seed)
            run.stats.seconds["set-up"] = Date().timeIntervalSince(setUpStart)
            defer { run.finish() }
            let started = Date()
            let timeLimit: TimeInterval = Self.long ? 3 * 3_600 : 600
            var iteration = 0
            while run.stats.kills < Self.targetKills, iteration < Self.targetKills * 4 {
                if Date().timeIntervalSince(started) > timeLimit {
                    run.fail("stopped after \(run.stats.kills) kills: over \(Int(timeLimit)) s")
                    break
                }
                try run.step(iteration)
                iteration += 1
                if run.failed { break }
            }
            let elapsed = Date().timeIntervalSince(started)
            if !run.failed {
                let start = Date()
                try run.converge()
                run.stats.seconds["converge"] = Date().timeIntervalSince(start)
            }
            return Outcome(stats: run.stats, failures: run.failures, steps: iteration, seconds: elapsed)
        }
        for f in o.failures { Issue.record(Comment(rawValue: f)) }
        let s = o.stats
        print("crash safety: seed \(Self.seed): \(s.kills) kills in \(o.steps) steps, \(String(format: "%.1f", o.seconds)) s "
            + "(client: \(s.clientKills) — push \(s.byKind["push", default: 0]), pull \(s.byKind["pull", default: 0]), "
            + "sync \(s.byKind["sync", default: 0]), bundle create \(s.byKind["bundle create", default: 0]), "
            + "bundle apply \(s.byKind["bundle apply", default: 0]); hub: \(s.hubKills), \(s.hubKillsMidTransfer) during a "
            + "transfer); \(s.missed) delays outlived the process; \(s.partial) kills left a transfer half done; "
            + "\(s.edits) edits (\(s.changesWritten) venues written, \(s.outsideEdits) times also by sqlite3), "
            + "\(s.hubPortChanges) hub port changes; time: "
            + s.seconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value)) s" }.joined(separator: ", "))
        #expect(s.kills >= Self.targetKills, "seed \(Self.seed)")
        #expect(s.clientKills > 0 && s.hubKills > 0, "seed \(Self.seed): both the client and the hub should be killed")
        #expect(s.partial > 0, "seed \(Self.seed): some kills should land in the middle of a transfer")
    }

    /// Runs blocking work (minutes of waiting on subprocesses) on a thread of its own, so that
    /// the test does not hold one of the few cooperative threads other suites run on meanwhile.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

/// The world of one crash run: a hub on a fixed loopback port, four replicas of two
/// municipalities, and the model of what was written.
final class CrashRun {
    struct Venue: Equatable {
        var name: String
        var membership: String
        var staff: Int
    }

    struct Stats: Sendable {
        var kills = 0
        var clientKills = 0
        var hubKills = 0
        var hubKillsMidTransfer = 0
        var byKind: [String: Int] = [:]
        var missed = 0
        var partial = 0
        var edits = 0
        var changesWritten = 0
        var hubPortChanges = 0
        var outsideEdits = 0
        /// Seconds spent per phase, to see where a run's time goes.
        var seconds: [String: Double] = [:]
    }

    /// Runs `body`, adding its time to `phase`.
    @discardableResult
    func timed<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer { stats.seconds[phase, default: 0] += Date().timeIntervalSince(start) }
        return try body()
    }

    struct ReplicaFile {
        let name: String
        let path: String
        let municipality: String
    }

    /// What `kmk_meta` says of push and pull, read with the sqlite3 shell.
    struct PushState {
        var seq: Int64 = 0
        var pushedSeq: Int64 = 0
        var batch: Int64 = 0
        var inflightBatch: Int64?
        var inflightSeq: Int64?
        var cursor: String?
    }

    let seed: UInt64
    var rng: SplitMix64
    var cli: CLI
    var port: Int
    var hub: HubProcess
    let hubArguments = ["--page-limit", "25", "--log-level", "warning"]
    /// Kills land up to this many µs after the start (a process takes 30–150 ms to start).
    let maxDelay: UInt32 = 250_000
    let venueCap = 400
    var replicas: [ReplicaFile] = []
    var tokens: [String: String] = [:]
    /// Per municipality: every venue alive, as last written.
    var model: [String: [String: Venue]] = [:]
    /// Per replica path: the venues it created (only their creator edits them, so the last write wins).
    var owned: [String: [String]] = [:]
    /// Per replica path: its latest complete bundle file.
    var bundles: [String: String] = [:]
    var stats = Stats()
    /// Replicas edited by another program since their last complete kmk-sync command.
    var unstamped: Set<String> = []
    var failed = false
    var counter = 0

    init(seed: UInt64) throws {
        self.seed = seed
        rng = SplitMix64(seed: seed)
        cli = try CLI()
        // Many small batches and pages, so that a transfer takes long enough to be cut.
        cli.environment["KMK_BATCH_CHANGES"] = "20"
        cli.environment["KMK_PAGE_LIMIT"] = "25"
        cli.environment["KMK_RETRY_BASE_MS"] = "5"
        port = try CrashRun.freePort()
        hub = try HubProcess(cli: cli, arguments: ["--port", String(port)] + hubArguments)
        for (code, names) in [("0484", ["esk-a", "esk-b"]), ("1780", ["kst-a", "kst-b"])] {
            tokens[code] = try cli.token(hub: hub, ["--municipality", code], file: "\(code).token")
            model[code] = [:]
            for n in names {
                let path = try cli.replica("\(n).kmk", code, hub: hub, token: tokens[code]!)
                replicas.append(ReplicaFile(name: n, path: path, municipality: code))
                owned[path] = []
            }
        }
        // A large start, so that the first transfers run long.
        for r in replicas { try edit(r, new: 100, updates: 0) }
    }

    func finish() {
        hub.stop()
        if !failed { cli.remove() } else { print("crash safety: files kept in \(cli.directory.path)") }
    }

    /// Failures are collected and recorded by the test once the run's thread is done.
    var failures: [String] = []

    func fail(_ message: String) {
        failures.append("seed \(seed): \(message)")
        failed = true
    }

    // MARK: - One step: maybe an edit, then one operation cut by a kill, checked and re-run.

    func step(_ iteration: Int) throws {
        if Int.random(in: 0..<10, using: &rng) < 6 {
            let r = replicas.randomElement(using: &rng)!
            // New venues until the municipality holds `venueCap`, then updates only: transfers stay
            // several batches long while the data set (and the time per step) stays bounded.
            let new = model[r.municipality]!.count < venueCap ? Int.random(in: 10...40, using: &rng) : 0
            try timed("edit") { try edit(r, new: new, updates: Int.random(in: 10...60, using: &rng)) }
        }
        let r = replicas.randomElement(using: &rng)!
        let delay = UInt32.random(in: 0...maxDelay, using: &rng)
        let attempts = Int.random(in: 1...4, using: &rng)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<18: try killClient("push", ["push", "--replica", r.path, "--retries", "2"], r, delay, attempts: attempts)
        case 18..<36: try killClient("pull", ["pull", "--replica", r.path, "--retries", "2"], r, delay, attempts: attempts)
        case 36..<50: try killClient("sync", ["sync", "--replica", r.path, "--retries", "2"], r, delay, attempts: attempts)
        case 50..<60:
            counter += 1
            let out = cli.path("\(r.name)-\(counter).bundle")
            try killClient("bundle create", ["bundle", "create", "--out", out, "--replica", r.path], r, delay, attempts: attempts, bundleOut: out)
        case 60..<72:
            let peer = replicas.filter { $0.municipality == r.municipality && $0.path != r.path }.randomElement(using: &rng)!
            let file = try timed("bundle") { try bundle(of: peer) }
            try killClient("bundle apply", ["bundle", "apply", file, "--replica", r.path], r, delay, attempts: attempts)
        default:
            let op = ["push", "pull", "sync"].randomElement(using: &rng)!
            try killHub(during: [op, "--replica", r.path, "--retries", "2"], r, delay)
        }
    }

    /// Writes `new` venues and updates `updates` of the venues this replica created, by one
    /// JSON import; now and then removes one.
    func edit(_ r: ReplicaFile, new: Int, updates: Int) throws {
        var records: [String] = []
        var written: [String: Venue] = [:]
        for _ in 0..<new {
            counter += 1
            let id = RecordID.make(using: &rng)
            written[id] = Venue(name: "\(r.name) krog \(counter)", membership: ["applicant", "member", "left"].randomElement(using: &rng)!,
                                staff: Int.random(in: 0...500, using: &rng))
        }
        for id in (owned[r.path] ?? []).shuffled(using: &rng).prefix(updates) {
            counter += 1
            var v = model[r.municipality]![id]!
            if Bool.random(using: &rng) { v.name = "\(r.name) krog \(counter) (nytt namn)" }
            v.staff = Int.random(in: 0...500, using: &rng)
            written[id] = v
        }
        for (id, v) in written.sorted(by: { $0.key < $1.key }) {
            let name = String(decoding: try JSONEncoder().encode(v.name), as: UTF8.self)
            records.append("{\"entity\":\"venue\",\"fields\":{\"membership\":\"\(v.membership)\",\"name\":\(name),"
                + "\"staff_count\":\(v.staff)},\"id\":\"\(id)\"}")
        }
        let file = cli.path("edit.json")
        let doc = "{\"format\":\"kmk-sync-export\",\"municipality\":\"\(r.municipality)\",\"schema\":1,\"records\":[\n"
            + records.joined(separator: ",\n") + "\n]}\n"
        try doc.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try cli.run("import", file, "--replica", r.path)
        guard result.status == 0 else { return fail("import into \(r.name) failed: \(result.stderr)") }
        for (id, v) in written {
            if model[r.municipality]![id] == nil { owned[r.path]!.append(id) }
            model[r.municipality]![id] = v
        }
        stats.edits += 1
        stats.changesWritten += written.count
        if let id = owned[r.path]!.randomElement(using: &rng), Int.random(in: 0..<5, using: &rng) == 0 {
            let removed = try cli.run("venue", "remove", id, "--replica", r.path)
            guard removed.status == 0 else { return fail("venue remove in \(r.name) failed: \(removed.stderr)") }
            model[r.municipality]![id] = nil
            owned[r.path]!.removeAll { $0 == id }
        }
        // Now and then another program (the sqlite3 shell) edits too: its changes are captured by
        // the triggers as pending and get their clock from the next kmk-sync command, which may
        // be the one killed.
        if Int.random(in: 0..<4, using: &rng) == 0 {
            var statements = ""
            for id in owned[r.path]!.shuffled(using: &rng).prefix(Int.random(in: 1...8, using: &rng)) {
                let staff = Int.random(in: 0...500, using: &rng)
                statements += "UPDATE venue SET staff_count = \(staff) WHERE id = '\(id)';\n"
                model[r.municipality]![id]!.staff = staff
            }
            _ = try sql(r.path, statements)
            unstamped.insert(r.path)
            stats.outsideEdits += 1
        }
    }

    /// The latest complete bundle of `r`, made now when there is none.
    func bundle(of r: ReplicaFile) throws -> String {
        if let b = bundles[r.path], Int.random(in: 0..<3, using: &rng) > 0 { return b }
        counter += 1
        let out = cli.path("\(r.name)-\(counter).bundle")
        let made = try cli.run("bundle", "create", "--out", out, "--replica", r.path)
        if made.status != 0 { fail("bundle create from \(r.name) failed: \(made.stderr)") }
        unstamped.remove(r.path)
        if let old = bundles[r.path] { try? FileManager.default.removeItem(atPath: old) }
        bundles[r.path] = out
        return out
    }

    /// Runs `args` and kills it after `delay` µs; checks the replica; re-runs it, and kills the
    /// re-run too, up to `attempts` times in all; then runs it to completion.
    func killClient(_ kind: String, _ args: [String], _ r: ReplicaFile, _ delay: UInt32, attempts: Int,
                    bundleOut: String? = nil) throws {
        var before = try pushState(r)
        var delay = delay
        for attempt in 0..<attempts {
            if attempt > 0 { delay = UInt32.random(in: 0...maxDelay, using: &rng) }
            let process = try spawn(args)
            timed("killed run") { usleep(delay) }
            let (killed, exit) = sigkill(process)
            if killed {
                stats.kills += 1
                stats.clientKills += 1
                stats.byKind[kind, default: 0] += 1
            } else {
                stats.missed += 1
                guard exit?.status == 0 else {
                    return fail("kmk-sync \(args.joined(separator: " ")) failed with \(exit.map { "\($0.status)" } ?? "no exit") before the kill")
                }
            }
            let after = try check(r, context: "after killing \(kind) on \(r.name) (attempt \(attempt + 1))")
            if killed, stats.clientKills % 8 == 0, !unstamped.contains(r.path) { try offlineCheck(r, context: "after killing \(kind)") }
            if killed, isPartial(kind, before, after) { stats.partial += 1 }
            before = after
            if let out = bundleOut, FileManager.default.fileExists(atPath: out) {
                // The bundle is written to a side file and renamed: a file under the final name is whole.
                let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                if !(text.split(separator: "\n").last?.hasPrefix("{\"sha256\":") ?? false) {
                    fail("a killed bundle create left an incomplete \(out)")
                }
            }
            if !killed { break }
        }
        let rerun = try timed("re-run") { try cli.run(args) }
        guard rerun.status == 0 else { return fail("re-run of \(args.joined(separator: " ")) after a kill: \(rerun.status) \(rerun.stderr)") }
        unstamped.remove(r.path)
        if let out = bundleOut {
            if let old = bundles[r.path] { try? FileManager.default.removeItem(atPath: old) }
            bundles[r.path] = out
            try? FileManager.default.removeItem(atPath: out + ".partial")
        }
    }

    /// Starts a client transfer, kills the hub after `delay` µs, checks the hub store and the
    /// replica, restarts the hub on the same port and re-runs the transfer to completion.
    func killHub(during args: [String], _ r: ReplicaFile, _ delay: UInt32) throws {
        let before = try pushState(r)
        let client = try spawn(args)
        timed("killed run") { usleep(delay) }
        let midTransfer = ChildProcess.exit(of: client) == nil
        hub.stop(SIGKILL)
        stats.kills += 1
        stats.hubKills += 1
        if midTransfer { stats.hubKillsMidTransfer += 1 }
        guard let exit = wait(client, seconds: 60) else { return fail("kmk-sync \(args.joined(separator: " ")) hung after the hub was killed") }
        if exit.signaled || ![0, 69].contains(exit.status) {
            fail("kmk-sync \(args.joined(separator: " ")) exited \(exit.status) when the hub was killed; expected 0 or 69")
        }
        try checkHub(context: "after killing the hub during \(args[0]) of \(r.name)")
        let after = try check(r, context: "after killing the hub during \(args[0]) of \(r.name)")
        if midTransfer, isPartial(args[0], before, after) { stats.partial += 1 }
        try timed("hub restart") { try restartHub() }
        let rerun = try timed("re-run") { try cli.run(args) }
        guard rerun.status == 0 else { return fail("re-run of \(args.joined(separator: " ")) after a hub kill: \(rerun.status) \(rerun.stderr)") }
        unstamped.remove(r.path)
    }

    /// A transfer that moved some but not all of its work before the kill.
    func isPartial(_ kind: String, _ before: PushState, _ after: PushState) -> Bool {
        switch kind {
        case "push", "sync": return after.pushedSeq != before.pushedSeq || after.batch != before.batch || after.inflightBatch != nil
        case "pull": return after.cursor != before.cursor
        case "bundle apply": return after.seq != before.seq
        default: return false
        }
    }

    func restartHub() throws {
        for attempt in 0..<5 {
            do {
                hub = try HubProcess(cli: cli, arguments: ["--port", String(port)] + hubArguments)
                return
            } catch {
                // The port was taken meanwhile: move the hub and tell every replica.
                if attempt == 4 { throw error }
                port = try CrashRun.freePort()
                stats.hubPortChanges += 1
                for r in replicas {
                    let set = try cli.run("remote", "set", "http://127.0.0.1:\(port)", "--replica", r.path)
                    if set.status != 0 { fail("remote set on \(r.name): \(set.stderr)") }
                }
            }
        }
    }

    // MARK: - Checks on the files

    /// Runs SQL on `file` with the sqlite3 shell; returns the output lines.
    func sql(_ file: String, _ statements: String) throws -> [String] {
        let r = try SQLiteShell.run(file, statements)
        if r.status != 0 {
            fail("sqlite3 \(file): \(r.stderr)")
            return []
        }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func values(_ lines: [String]) -> [String: String] {
        var v: [String: String] = [:]
        for line in lines {
            guard let i = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<i])
            v[key] = v[key].map { $0 + "\n" + line[line.index(after: i)...] } ?? String(line[line.index(after: i)...])
        }
        return v
    }

    func pushState(_ r: ReplicaFile) throws -> PushState {
        let v = values(try sql(r.path, "SELECT key || '=' || value FROM kmk_meta WHERE key IN "
            + "('seq','push.seq','push.batch','push.inflight_batch','push.inflight_seq','pull.cursor');"))
        return PushState(seq: Int64(v["seq"] ?? "") ?? 0, pushedSeq: Int64(v["push.seq"] ?? "") ?? 0,
                         batch: Int64(v["push.batch"] ?? "") ?? 0, inflightBatch: v["push.inflight_batch"].flatMap { Int64($0) },
                         inflightSeq: v["push.inflight_seq"].flatMap { Int64($0) }, cursor: v["pull.cursor"])
    }

    /// Every record's sequence number and pending registers in a replica's change log (in each
    /// entity's table and its table of records that are not alive, SPEC.md §2).
    static let logSeqs = Schema.current.entities.map { "SELECT seq, pend FROM \($0.name) UNION ALL SELECT seq, pend FROM kmk_\($0.name)_gone" }
        .joined(separator: " UNION ALL ")

    /// Integrity of a replica file, its change log, its push and pull state, and that state
    /// against the hub store's (the hub may be running: reading a WAL store beside it is safe).
    @discardableResult
    func check(_ r: ReplicaFile, context: String) throws -> PushState {
        let lines = try timed("check") { try sql(r.path, """
            SELECT 'ic=' || integrity_check FROM pragma_integrity_check;
            SELECT 'pending=' || count(*) FROM (\(Self.logSeqs)) WHERE pend > 0;
            SELECT 'dupseq=' || (count(seq) - count(DISTINCT seq)) FROM (\(Self.logSeqs));
            SELECT 'maxseq=' || coalesce(max(seq), 0) FROM (\(Self.logSeqs));
            SELECT key || '=' || value FROM kmk_meta WHERE key IN
                ('seq','push.seq','push.batch','push.inflight_batch','push.inflight_seq','pull.cursor');
            ATTACH '\(hub.db)' AS hub;
            SELECT 'hub.last_batch=' || last_batch FROM hub.hub_replica WHERE replica = (SELECT value FROM kmk_meta WHERE key = 'replica_id');
            SELECT 'hub.seq=' || value FROM hub.hub_meta WHERE key = 'seq';
            SELECT 'hub.id=' || value FROM hub.hub_meta WHERE key = 'hub_id';
            """) }
        let v = values(lines)
        let where_ = "seed \(seed), \(context)"
        if v["ic"] != "ok" { fail("\(where_): \(r.name) fails integrity_check: \(v["ic"] ?? "no answer")") }
        if v["pending"] != "0", !unstamped.contains(r.path) { fail("\(where_): \(r.name) holds \(v["pending"] ?? "?") unstamped changes") }
        if v["dupseq"] != "0" { fail("\(where_): \(r.name) has \(v["dupseq"] ?? "?") duplicate sequence numbers") }
        let s = PushState(seq: Int64(v["seq"] ?? "") ?? -1, pushedSeq: Int64(v["push.seq"] ?? "") ?? 0,
                          batch: Int64(v["push.batch"] ?? "") ?? 0, inflightBatch: v["push.inflight_batch"].flatMap { Int64($0) },
                          inflightSeq: v["push.inflight_seq"].flatMap { Int64($0) }, cursor: v["pull.cursor"])
        let maxSeq = Int64(v["maxseq"] ?? "") ?? -1
        if maxSeq > s.seq { fail("\(where_): \(r.name) holds seq \(maxSeq) above kmk_meta.seq \(s.seq)") }
        if s.pushedSeq > s.seq { fail("\(where_): \(r.name) pushed up to \(s.pushedSeq), beyond its last seq \(s.seq)") }
        if (s.inflightBatch == nil) != (s.inflightSeq == nil) { fail("\(where_): \(r.name) has half an in-flight record") }
        if let b = s.inflightBatch, let q = s.inflightSeq {
            if b != s.batch + 1 { fail("\(where_): \(r.name) has batch \(b) in flight after acknowledged batch \(s.batch)") }
            if !(q > s.pushedSeq && q <= s.seq) { fail("\(where_): \(r.name) in-flight range ends at \(q); pushed \(s.pushedSeq), last \(s.seq)") }
        }
        // Exactly once: the hub holds either the last acknowledged batch, or also the one in flight.
        let hubBatch = Int64(v["hub.last_batch"] ?? "") ?? 0
        if hubBatch != s.batch, hubBatch != s.inflightBatch {
            fail("\(where_): the hub's last batch of \(r.name) is \(hubBatch); the replica acknowledged \(s.batch), in flight \(s.inflightBatch.map(String.init) ?? "none")")
        }
        if let cursor = s.cursor {
            let parts = cursor.split(separator: ".")
            let hubSeq = Int64(v["hub.seq"] ?? "") ?? 0
            if parts.count != 4 || parts[0] != "c1" || String(parts[1]) != v["hub.id"] || (Int64(parts[2]) ?? .max) > hubSeq {
                fail("\(where_): \(r.name)'s pull cursor \(cursor) is not one of this hub's (id \(v["hub.id"] ?? "?"), seq \(hubSeq))")
            }
        }
        return s
    }

    /// `kmk-sync check --offline`: the replica's own view of its integrity, log, records and cursors.
    func offlineCheck(_ r: ReplicaFile, context: String) throws {
        let result = try timed("check") { try cli.run("check", "--offline", "--replica", r.path) }
        if result.status != 0 { fail("seed \(seed), \(context): kmk-sync check --offline on \(r.name) exited \(result.status): \(result.stdout) \(result.stderr)") }
    }

    /// Integrity of the hub store: the file, unique hub sequence numbers, commit ranges.
    func checkHub(context: String) throws {
        let v = values(try sql(hub.db, """
            SELECT 'ic=' || integrity_check FROM pragma_integrity_check;
            SELECT 'dupseq=' || (count(seq) - count(DISTINCT seq)) FROM hub_register;
            SELECT 'maxseq=' || coalesce(max(seq), 0) FROM hub_register;
            SELECT 'maxcommit=' || coalesce(max(last_seq), 0) FROM hub_commit;
            SELECT 'seq=' || value FROM hub_meta WHERE key = 'seq';
            """))
        let where_ = "seed \(seed), \(context)"
        if v["ic"] != "ok" { fail("\(where_): the hub store fails integrity_check: \(v["ic"] ?? "no answer")") }
        if v["dupseq"] != "0" { fail("\(where_): the hub store has \(v["dupseq"] ?? "?") duplicate sequence numbers") }
        let seq = Int64(v["seq"] ?? "") ?? -1
        if (Int64(v["maxseq"] ?? "") ?? .max) > seq || (Int64(v["maxcommit"] ?? "") ?? .max) > seq {
            fail("\(where_): the hub store holds numbers above its seq \(seq): registers \(v["maxseq"] ?? "?"), commits \(v["maxcommit"] ?? "?")")
        }
    }

    // MARK: - Processes

    func spawn(_ args: [String]) throws -> Process { try cli.spawn(args) }

    /// Sends SIGKILL if the process still runs; waits for it. True when the kill ended it, with
    /// how it ended.
    func sigkill(_ p: Process) -> (killed: Bool, exit: ChildProcess.Exit?) {
        if ChildProcess.exit(of: p) == nil { Foundation.kill(p.processIdentifier, SIGKILL) }
        guard let exit = wait(p, seconds: 30) else {
            fail("a kmk-sync process outlived SIGKILL by 30 s")
            return (false, nil)
        }
        return (exit.signaled && exit.status == SIGKILL, exit)
    }

    /// How `p` ended, waiting at most `seconds`; nil (and the process killed) when it still ran.
    func wait(_ p: Process, seconds: Double) -> ChildProcess.Exit? {
        if let exit = ChildProcess.wait(p, seconds: seconds) { return exit }
        Foundation.kill(p.processIdentifier, SIGKILL)
        _ = ChildProcess.wait(p, seconds: 30)
        return nil
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: - The end: everyone syncs; the replicas and the hub hold exactly the edits made.

    func converge() throws {
        for round in 0..<2 {
            for r in replicas {
                let s = try cli.run("sync", "--replica", r.path)
                if s.status != 0 { fail("final sync \(round) of \(r.name): \(s.status) \(s.stderr)") }
            }
        }
        try checkHub(context: "at the end")
        for code in model.keys.sorted() {
            let group = replicas.filter { $0.municipality == code }
            var exports: Set<String> = []
            // The status of each replica compares its checksum with the hub's; here the count.
            let hubRegisters = try sql(hub.db, "SELECT count(*) FROM hub_register WHERE muni = '\(code)';").first.flatMap { Int($0) }
            for r in group {
                let state = try check(r, context: "at the end")
                try offlineCheck(r, context: "at the end")
                if state.inflightBatch != nil { fail("\(r.name) still has a batch in flight after the final syncs") }
                let statusRun = try cli.run("status", "--json", "--timeout", "120", "--replica", r.path)
                let status = (try? JSONSerialization.jsonObject(with: Data(statusRun.stdout.utf8))) as? [String: Any] ?? [:]
                if status["in_step"] as? Bool != true || status["pending"] as? Int != 0 {
                    fail("\(r.name) is not in step with the hub at the end: \(status)")
                }
                let export = try cli.run("export", "--replica", r.path).stdout
                exports.insert(export)
                let log = try cli.run("log", "--json", "--limit", "100000000", "--replica", r.path)
                let entries = (try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]]) ?? []
                // Every change has a sequence number; changes of one record may share one (SPEC.md §4),
                // two records never do.
                let seqs = entries.compactMap { $0["seq"] as? Int }
                var owner: [Int: String] = [:]
                var shared = 0
                for e in entries {
                    guard let seq = e["seq"] as? Int else { continue }
                    let record = "\(e["entity"] ?? "")/\(e["id"] ?? "")"
                    if let o = owner[seq], o != record { shared += 1 } else { owner[seq] = record }
                }
                if seqs.count != entries.count || shared > 0 {
                    fail("\(r.name)'s log has missing or shared sequence numbers (\(entries.count) entries, \(seqs.count) numbered, "
                        + "\(shared) numbered like another record's change)")
                }
                let registers = Set(entries.map { "\($0["entity"] ?? "")/\($0["id"] ?? "")/\($0["field"] ?? "")" })
                if registers.count != entries.count { fail("\(r.name)'s log holds a register twice") }
                if hubRegisters != entries.count {
                    fail("the hub holds \(hubRegisters.map(String.init) ?? "?") registers of \(code); \(r.name) holds \(entries.count)")
                }
            }
            if exports.count != 1 { fail("the replicas of \(code) export different records at the end") }
            guard let export = exports.first else { continue }
            // Exactly the venues written, each with its last value: none lost, none duplicated.
            let doc = (try JSONSerialization.jsonObject(with: Data(export.utf8)) as? [String: Any]) ?? [:]
            var held: [String: Venue] = [:]
            for record in (doc["records"] as? [[String: Any]]) ?? [] where record["entity"] as? String == "venue" {
                let f = record["fields"] as? [String: Any] ?? [:]
                held[record["id"] as? String ?? ""] = Venue(name: f["name"] as? String ?? "", membership: f["membership"] as? String ?? "",
                                                            staff: f["staff_count"] as? Int ?? -1)
            }
            let expected = model[code]!
            let lost = expected.filter { held[$0.key] != $0.value }
            let extra = held.keys.filter { expected[$0] == nil }
            if !lost.isEmpty || !extra.isEmpty {
                fail("\(code): \(lost.count) venues lost or with a wrong value (e.g. \(lost.first.map { "\($0.key): want \($0.value), have \(String(describing: held[$0.key]))" } ?? "-")), "
                    + "\(extra.count) venues that were never written or were removed")
            }
            print("crash safety: \(code): \(expected.count) venues, \(hubRegisters ?? -1) registers on the hub and on each replica")
        }
    }
}
