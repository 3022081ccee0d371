import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// `init` and `import` killed with SIGKILL at random points: `init` leaves either no file under
/// the name (and can simply be run again) or a whole replica; `import` (one transaction) leaves
/// either none or all of the file's records, and running it again gives the same replica. A file
/// of an older change-log layout killed while it is migrated is the old file or the migrated one.
@Suite("killed init and import", .serialized)
struct InitKillTests {
    static let seed = SplitMix64.seed(from: "KMK_CRASH_SEED")

    /// Starts `kmk-sync ARGS` in `cli`'s folder, kills it after `delay` µs, and waits (at most 30 s).
    /// True when the kill ended it (false: it had finished).
    func runKilled(_ cli: CLI, _ args: [String], after delay: UInt32) throws -> Bool {
        let p = try cli.spawn(args)
        usleep(delay)
        if ChildProcess.exit(of: p) == nil { kill(p.processIdentifier, SIGKILL) }
        let exit = ChildProcess.wait(p, seconds: 30)
        #expect(exit != nil, "kmk-sync \(args.first ?? "") outlived SIGKILL by 30 s")
        return exit?.signaled == true && exit?.status == SIGKILL
    }

    /// Microseconds a normal run takes (the fastest of three, after a first one): the kills are
    /// spread over 0 to 1.2 times it. `args(n)` gives the n-th run's arguments.
    func duration(_ cli: CLI, _ args: (Int) -> [String]) throws -> UInt32 {
        var fastest = Double.infinity
        for n in 0..<4 {
            let start = Date()
            let r = try cli.run(args(n))
            #expect(r.status == 0, "\(r.stderr)")
            if n > 0 { fastest = min(fastest, Date().timeIntervalSince(start)) }
        }
        return UInt32(max(1_000, fastest * 1_200_000))
    }

    @Test("a killed init leaves no file under the name, or a whole replica; init runs again")
    func killedInit() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var rng = SplitMix64(seed: Self.seed)
        let span = try duration(cli) { ["init", "probe\($0).kmk", "--municipality", "0484"] }
        var outcomes = (none: 0, whole: 0, finished: 0)
        let started = Date()
        for i in 0..<30 where Date().timeIntervalSince(started) < 120 {
            let name = "r\(i).kmk"
            let path = cli.path(name)
            let killed = try runKilled(cli, ["init", name, "--municipality", "0484"], after: UInt32.random(in: 0...span, using: &rng))
            if FileManager.default.fileExists(atPath: path) {
                let check = try cli.run("check", "--offline", "--replica", name)
                #expect(check.status == 0, "seed \(Self.seed), run \(i): a file under the name must be a whole replica: \(check.stdout) \(check.stderr)")
                #expect(try cli.run("venue", "list", "--replica", name).status == 0)
                if killed { outcomes.whole += 1 } else { outcomes.finished += 1 }
            } else {
                #expect(killed, "seed \(Self.seed), run \(i): init finished but made no file")
                let again = try cli.run("init", name, "--municipality", "0484")
                #expect(again.status == 0, "seed \(Self.seed), run \(i): init again after a kill: \(again.stderr)")
                outcomes.none += 1
            }
            // Never a file of the replica's name that is not a replica; side files are hidden.
            let visible = try FileManager.default.contentsOfDirectory(atPath: cli.directory.path).filter { !$0.hasPrefix(".") }
            #expect(visible.allSatisfy { $0.hasSuffix(".kmk") || $0.hasSuffix(".kmk-wal") || $0.hasSuffix(".kmk-shm") }, "\(visible)")
        }
        print("killed init: seed \(Self.seed), kills spread over \(span) µs: \(outcomes.none) left no file, "
            + "\(outcomes.whole) left a whole replica, \(outcomes.finished) had finished")
    }

    @Test("a hub killed while it creates its store leaves no store or a whole one; it starts again")
    func killedHubCreation() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var rng = SplitMix64(seed: Self.seed ^ 0x4B5B)
        // `hub token create` opens the store the way `hub serve` does, creating it when missing.
        let span = try duration(cli) { ["hub", "token", "create", "--db", "probe\($0).db", "--styrgrupp"] }
        var outcomes = (none: 0, whole: 0)
        let started = Date()
        for i in 0..<20 where Date().timeIntervalSince(started) < 120 {
            let name = "hub\(i).db"
            let killed = try runKilled(cli, ["hub", "token", "create", "--db", name, "--municipality", "0484"],
                                       after: UInt32.random(in: 0...span, using: &rng))
            if FileManager.default.fileExists(atPath: cli.path(name)) {
                if killed { outcomes.whole += 1 }
            } else {
                #expect(killed, "seed \(Self.seed), run \(i): token create finished but made no store")
                outcomes.none += 1
            }
            // Whatever the kill left, the hub starts on it: the store is whole or is made anew.
            let again = try cli.run("hub", "token", "create", "--db", name, "--municipality", "0484")
            #expect(again.status == 0, "seed \(Self.seed), run \(i): \(again.stderr)")
            #expect(try cli.run("hub", "token", "list", "--db", name).status == 0)
            #expect(try SQLiteShell.integrity(cli.path(name)) == "ok")
        }
        print("killed hub creation: seed \(Self.seed), kills spread over \(span) µs: \(outcomes.none) left no store, "
            + "\(outcomes.whole) left a whole one")
    }

    @Test("a killed import leaves none or all of the file's records; importing again gives the same replica")
    func killedImport() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var rng = SplitMix64(seed: Self.seed ^ 0x5EED)
        var records: [String] = []
        for n in 0..<300 {
            let id = RecordID.make(using: &rng)
            records.append("{\"entity\":\"venue\",\"id\":\"\(id)\",\"fields\":{\"name\":\"Krog \(n)\",\"membership\":\"member\",\"staff_count\":\(n)}}")
        }
        let doc = "{\"format\":\"kmk-sync-export\",\"municipality\":\"0484\",\"schema\":1,\"records\":[\n"
            + records.joined(separator: ",\n") + "\n]}\n"
        try doc.write(toFile: cli.path("venues.json"), atomically: true, encoding: .utf8)
        for n in 0..<4 { #expect(try cli.run("init", "probe\(n).kmk", "--municipality", "0484").status == 0) }
        let span = try duration(cli) { ["import", "venues.json", "--replica", "probe\($0).kmk"] }
        let reference = try cli.run("export", "--replica", "probe0.kmk").stdout
        var outcomes = (none: 0, all: 0)
        let started = Date()
        for i in 0..<20 where Date().timeIntervalSince(started) < 120 {
            let name = "i\(i).kmk"
            #expect(try cli.run("init", name, "--municipality", "0484").status == 0)
            _ = try runKilled(cli, ["import", "venues.json", "--replica", name], after: UInt32.random(in: 0...span, using: &rng))
            #expect(try SQLiteShell.integrity(cli.path(name)) == "ok", "seed \(Self.seed), run \(i)")
            let venues = Int(try SQLiteShell.run(cli.path(name), "SELECT count(*) FROM venue;", readOnly: true).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            #expect(venues == 0 || venues == 300, "seed \(Self.seed), run \(i): \(venues) venues after a killed import")
            if venues == 0 { outcomes.none += 1 } else { outcomes.all += 1 }
            let again = try cli.run("import", "venues.json", "--replica", name)
            #expect(again.status == 0, "seed \(Self.seed), run \(i): \(again.stderr)")
            #expect(try cli.run("check", "--offline", "--replica", name).status == 0)
            let export = try cli.run("export", "--replica", name).stdout
            #expect(Self.records(export) == Self.records(reference), "seed \(Self.seed), run \(i): the replica differs after importing again")
        }
        print("killed import: seed \(Self.seed), kills spread over \(span) µs: \(outcomes.none) left none, \(outcomes.all) left all")
    }

    @Test("a replica killed while it migrates from layout 2 stays layout 2 or is whole layout 7; opening it again loses nothing")
    func killedMigration() throws {
        let cli = try CLI()
        defer { cli.remove() }
        var rng = SplitMix64(seed: Self.seed ^ 0x1A7)
        let expected = try Self.layout2Export()
        let conflicts = try String(contentsOf: PackageDirectory.url("Fixtures/layout3/0484-layout3.conflicts.jsonl"), encoding: .utf8)
        func copy(_ name: String) throws {
            try? FileManager.default.removeItem(atPath: cli.path(name))
            try FileManager.default.copyItem(atPath: Self.layout2File, toPath: cli.path(name))
        }
        func layout(_ name: String) throws -> String {
            try SQLiteShell.run(cli.path(name), "SELECT value FROM kmk_meta WHERE key = 'log_layout';", readOnly: true).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Any command migrates the file when it opens it; `export` then reads it.
        let span = try duration(cli) { n in
            try? copy("probe\(n).kmk")
            return ["export", "--include-local", "--replica", "probe\(n).kmk", "--out", "probe\(n).json"]
        }
        var outcomes = (old: 0, new: 0, finished: 0)
        let started = Date()
        for i in 0..<16 where Date().timeIntervalSince(started) < 120 {
            let name = "m\(i).kmk"
            try copy(name)
            let killed = try runKilled(cli, ["export", "--include-local", "--replica", name, "--out", "m\(i).json"],
                                       after: UInt32.random(in: 0...span, using: &rng))
            #expect(try SQLiteShell.integrity(cli.path(name)) == "ok", "seed \(Self.seed), run \(i)")
            let found = try layout(name)
            #expect(found == "2" || found == "7", "seed \(Self.seed), run \(i): log_layout '\(found)' after a kill")
            if !killed { outcomes.finished += 1 } else if found == "2" { outcomes.old += 1 } else { outcomes.new += 1 }
            let export = try cli.run("export", "--include-local", "--replica", name)
            #expect(export.status == 0, "seed \(Self.seed), run \(i): \(export.stderr)")
            #expect(export.stdout == expected, "seed \(Self.seed), run \(i): the records differ from the layout-2 build's export")
            #expect(try layout(name) == "7")
            try Self.expectClocks(of: cli.run("log", "--json", "--limit", "100000", "--replica", name).stdout,
                                  as: Self.layout2.appendingPathComponent("0484-layout2.log.jsonl"), "seed \(Self.seed), run \(i)")
            // The ledger as the layout-3 build listed the same entries (Fixtures/layout3/README.md).
            #expect(try cli.run("conflicts", "--json", "--replica", name).stdout == conflicts, "seed \(Self.seed), run \(i)")
            let check = try cli.run("check", "--offline", "--replica", name)
            #expect(check.status == 0, "seed \(Self.seed), run \(i): \(check.stdout) \(check.stderr)")
        }
        print("killed migration: seed \(Self.seed), kills spread over \(span) µs: \(outcomes.old) left layout 2, "
            + "\(outcomes.new) left layout 7, \(outcomes.finished) had finished")
    }

    @Test("three commands opening one layout-2 file at once: one migrates it, the others find it migrated")
    func concurrentMigration() throws {
        var cli = try CLI()
        // The others wait for the migration (SPEC.md §2); on a loaded 2-core machine a debug build
        // migrates this file in up to about 20 s, past the default 5 s wait (then exit 75, correct
        // but not what this test is about).
        cli.environment["KMK_BUSY_TIMEOUT_MS"] = "60000"
        defer { cli.remove() }
        let expected = try Self.layout2Export()
        for round in 0..<4 {
            let name = "c\(round).kmk"
            try FileManager.default.copyItem(atPath: Self.layout2File, toPath: cli.path(name))
            let processes = try (0..<3).map { k in
                try cli.spawn(["export", "--include-local", "--replica", name, "--out", "c\(round)-\(k).json"])
            }
            for (k, p) in processes.enumerated() {
                let exit = ChildProcess.wait(p, seconds: 60)
                #expect(exit?.status == 0 && exit?.signaled == false, "round \(round), command \(k) ended with \(String(describing: exit))")
                let out = (try? String(contentsOfFile: cli.path("c\(round)-\(k).json"), encoding: .utf8)) ?? ""
                #expect(out == expected, "round \(round), command \(k): the records differ from the layout-2 build's export")
            }
            let check = try cli.run("check", "--offline", "--replica", name)
            #expect(check.status == 0, "round \(round): \(check.stdout) \(check.stderr)")
            try Self.expectClocks(of: cli.run("log", "--json", "--limit", "100000", "--replica", name).stdout,
                                  as: Self.layout2.appendingPathComponent("0484-layout2.log.jsonl"), "round \(round)")
        }
    }

    /// The replica file of change-log layout 2 and what the layout-2 build made of it
    /// (Fixtures/layout2/README.md).
    static let layout2 = PackageDirectory.url("Fixtures/layout2")
    static let layout2File = layout2.appendingPathComponent("0484-layout2.kmk").path

    /// `kmk-sync export --include-local` of the layout-2 file by the layout-2 build.
    static func layout2Export() throws -> String {
        try String(contentsOf: layout2.appendingPathComponent("0484-layout2.export-local.json"), encoding: .utf8)
    }

    /// Each change of `log` (`kmk-sync log --json`) has the clock the layout-2 build listed in
    /// `fixtureLog`, or, for the changes pending in the fixture file, a clock from this run (the
    /// open clocks them); no change is missing or added.
    static func expectClocks(of log: String, as fixtureLog: URL, _ context: String) throws {
        func entries(_ text: String) throws -> [String: String] {
            let list = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
            return Dictionary(list.map { ("\($0["entity"]!)|\($0["id"]!)|\($0["field"]!)", "\($0["clock"]!)") }, uniquingKeysWith: { a, _ in a })
        }
        let old = try entries(String(contentsOf: fixtureLog, encoding: .utf8))
        let now = try entries(log)
        #expect(now.count == old.count, "\(context): \(now.count) changes, the layout-2 build listed \(old.count)")
        let wall = UInt64(Date().timeIntervalSince1970 * 1000)
        for (key, clock) in old {
            guard let got = now[key] else {
                Issue.record("\(context): \(key) is missing")
                continue
            }
            guard got != clock else { continue }
            let millis = (UInt64(got, radix: 16) ?? 0) >> 16
            #expect(millis + 3_600_000 > wall && millis < wall + 60_000,
                    "\(context): \(key) has clock \(got), neither the layout-2 build's \(clock) nor one from this run")
        }
    }

    /// The record lines of an export (the header names the replica and the time, which differ).
    static func records(_ export: String) -> [Substring] {
        export.split(separator: "\n").filter { $0.contains("\"entity\":\"venue\"") }
    }
}
