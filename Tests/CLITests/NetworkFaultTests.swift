import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// `kmk-sync sync` through a fault-injecting proxy (issue 6): every run completes or exits 69/75
/// with its replica intact (`PRAGMA integrity_check`, `kmk-sync check --offline`, no venue lost);
/// the next runs resume, and in the end every replica converges.
@Suite("network faults", .serialized)
struct NetworkFaultTests {
    /// One replica under test: its file, municipality and the venue names it created.
    final class Official {
        let name: String
        let path: String
        let municipality: String
        var created: Set<String> = []
        /// Every venue name this replica has held after a run; none may disappear.
        var held: Set<String> = []

        init(name: String, path: String, municipality: String) {
            self.name = name
            self.path = path
            self.municipality = municipality
        }
    }

    static func venues(_ cli: CLI, _ replica: String) throws -> [(id: String, name: String)] {
        let text = try cli.run("export", "--replica", replica).stdout
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let records = json?["records"] as? [[String: Any]] ?? []
        return records.compactMap { r in
            guard r["entity"] as? String == "venue", let id = r["id"] as? String,
                  let name = (r["fields"] as? [String: Any])?["name"] as? String else { return nil }
            return (id, name)
        }
    }

    /// `PRAGMA integrity_check` through the sqlite3 CLI, read-only.
    @Test("sync through a proxy that resets, truncates, delays and answers 500/503: exits 0, 69 or 75, replicas intact, then convergence")
    func faultyNetwork() throws {
        let long = ProcessInfo.processInfo.environment["KMK_LONG_TESTS"] == "1"
        let runs = long ? 400 : 40
        let seed = SplitMix64.seed(from: "KMK_FAULT_SEED")
        print("network faults: seed \(seed) (replay with KMK_FAULT_SEED=\(seed)), \(runs) faulty runs")
        var random = SplitMix64(seed: seed)

        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_RETRY_BASE_MS"] = "5"
        // Small batches and pages: a run makes many requests, so faults land mid-transfer.
        cli.environment["KMK_BATCH_CHANGES"] = "7"
        cli.environment["KMK_PAGE_LIMIT"] = "9"
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let proxy = try FaultProxy(upstream: hub.url, seed: seed &+ 0x5EED)
        defer { proxy.stop() }

        let esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let kar = try cli.token(hub: hub, ["--municipality", "1780"], file: "kar.token")
        var officials: [Official] = []
        for (name, municipality, token) in [("anna", "0484", esk), ("bo", "0484", esk), ("cia", "1780", kar), ("dan", "1780", kar)] {
            let path = try cli.replica("\(name).kmk", municipality, hub: hub, token: token)
            #expect(try cli.run("remote", "set", proxy.url, "--replica", path).status == 0)
            officials.append(Official(name: name, path: path, municipality: municipality))
        }
        var counter = 0
        func addVenue(_ o: Official) throws {
            counter += 1
            let name = "Krog \(o.name) \(counter)"
            let r = try cli.run("venue", "add", "name=\(name)", "membership=member", "staff_count=\(counter % 40)", "--replica", o.path)
            #expect(r.status == 0, "\(r.stderr)")
            o.created.insert(name)
        }
        for o in officials { for _ in 0..<6 { try addVenue(o) } }

        var exits: [Int32: Int] = [:]
        let deadline = Date().addingTimeInterval(long ? 1_800 : 240)
        var done = 0
        for run in 0..<runs where Date() < deadline {
            let o = officials.randomElement(using: &random)!
            // Offline edits between runs: a new venue, or a changed one (possibly another's).
            switch Int.random(in: 0..<4, using: &random) {
            case 0: try addVenue(o)
            case 1:
                if let v = try Self.venues(cli, o.path).randomElement(using: &random) {
                    let r = try cli.run("venue", "update", v.id, "staff_count=\(Int.random(in: 0..<99, using: &random))",
                                        "--replica", o.path)
                    #expect(r.status == 0, "\(r.stderr)")
                }
            default: break
            }
            let before = Set(try Self.venues(cli, o.path).map(\.name))
            let r = try cli.run("sync", "--replica", o.path, "--retries", "3", "--timeout", "10", "--quiet")
            exits[r.status, default: 0] += 1
            #expect([0, 69, 75].contains(r.status), "run \(run) (\(o.name)) exited \(r.status): \(r.stderr)")
            let integrity = try SQLiteShell.integrity(o.path)
            #expect(integrity == "ok", "run \(run): \(o.name)'s replica: \(integrity)")
            // The replica's own checks: change log, records against it, push/pull state.
            let check = try cli.run("check", "--offline", "--replica", o.path)
            #expect(check.status == 0, "run \(run): kmk-sync check on \(o.name): \(check.stdout) \(check.stderr)")
            let after = Set(try Self.venues(cli, o.path).map(\.name))
            #expect(before.isSubset(of: after), "run \(run): \(o.name) lost \(before.subtracting(after).sorted())")
            #expect(o.held.isSubset(of: after) && o.created.isSubset(of: after))
            o.held.formUnion(after)
            done += 1
        }
        let injected = proxy.injected
        print("network faults: \(done) runs, exits \(exits.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")), "
            + "connections \(FaultProxy.Fault.allCases.map { "\($0.rawValue)×\(injected[$0] ?? 0)" }.joined(separator: " "))")
        #expect(done == runs, "only \(done) of \(runs) runs fitted in the time limit")
        #expect(injected.filter { $0.key != .pass }.values.reduce(0, +) > 0, "no fault was injected")
        proxy.stop()

        // Straight to the hub: two rounds, every run succeeds and everything converges.
        for o in officials { #expect(try cli.run("remote", "set", hub.url, "--replica", o.path).status == 0) }
        for round in 0..<2 {
            for o in officials {
                let r = try cli.run("sync", "--replica", o.path)
                #expect(r.status == 0, "final round \(round), \(o.name): \(r.stderr)")
            }
        }
        for municipality in ["0484", "1780"] {
            let group = officials.filter { $0.municipality == municipality }
            let exports = try group.map { try cli.run("export", "--replica", $0.path).stdout }
            #expect(Set(exports).count == 1, "replicas of \(municipality) differ after convergence")
            let created = group.reduce(into: Set<String>()) { $0.formUnion($1.created) }
            for o in group {
                let names = Set(try Self.venues(cli, o.path).map(\.name))
                #expect(created.isSubset(of: names), "\(o.name) lacks \(created.subtracting(names).sorted())")
            }
        }
        for o in officials {
            let status = try cli.status(o.path)
            #expect(status["in_step"] as? Bool == true, "\(o.name): \(status)")
            #expect(status["pending"] as? Int == 0, "\(o.name): \(status)")
        }
    }
}
