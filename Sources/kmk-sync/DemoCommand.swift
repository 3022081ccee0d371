import ArgumentParser
import Foundation
import KMKClient
import KMKHub
import KMKModel
import KMKReplica
import KMKSync
import Logging

/// `kmk-sync demo`: an embedded hub on loopback, replicas for the seed municipalities, offline
/// work with a conflict and a refused cross-municipality write, then everything syncs.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a hub and five replicas on the seed fixtures, in a temporary folder, and sync them.",
        discussion: "Finishes in seconds and removes its files, unless --keep DIR is given."
    )

    @Option(help: "Keep the hub store, replicas and tokens in this folder instead of a temporary one.") var keep: String?
    @Option(help: "The Fixtures folder (default: ./Fixtures, or beside the binary's package).") var fixtures: String?

    func run() async throws {
        let fm = FileManager.default
        let dir = keep ?? fm.temporaryDirectory.appendingPathComponent("kmk-demo-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? fm.removeItem(atPath: dir) } }
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

        say("1. The national hub starts on loopback with an empty store.")
        var logger = Logger(label: "kmk-sync.demo-hub")
        logger.logLevel = .critical
        let config = { var c = HubConfiguration(databasePath: path("hub.db")); c.port = 0; return c }()
        let (addresses, continuation) = AsyncStream.makeStream(of: String.self)
        let server = Task {
            defer { continuation.finish() }
            try await HubServer.run(config, logger: logger) { continuation.yield($0) }
        }
        defer { server.cancel() }
        var iterator = addresses.makeAsyncIterator()
        guard let url = await iterator.next() else {
            var reason = "no reason given"
            if case .failure(let error) = await server.result { reason = Exit.classify(error)?.message ?? "\(error)" }
            throw CLIFailure(message: "the demo hub did not start: \(reason)", code: Exit.software)
        }
        say("   listening on \(url)")
        let store = try HubStore.open(at: path("hub.db"))
        func token(_ scope: HubScope) throws -> String { try store.createToken(scope: scope, label: "demo").token }

        say("2. Replicas: Anna and Bo in Eskilstuna, one official each in Helsingborg, Karlstad and Kalmar.")
        struct Office { let name: String; let replica: Replica; let token: String }
        var offices: [Office] = []
        for (name, code, fixture) in [("Anna", "0484", "0484-eskilstuna.json"), ("Bo", "0484", nil),
                                      ("Helsingborg", "1283", "1283-helsingborg.json"), ("Karlstad", "1780", "1780-karlstad.json"),
                                      ("Kalmar", "0880", "0880-kalmar.json")] {
            let replica = try Replica.create(at: path("\(name.lowercased()).kmk"), municipality: try Municipality.find(code))
            try replica.setRemote(url: url)
            if let fixture {
                let file = try findFixture(fixture)
                let doc = try ExportDocument.decode(String(decoding: fm.contents(atPath: file) ?? Data(), as: UTF8.self), file: file)
                _ = try replica.importRecords(doc.records, mode: .replace)
            }
            offices.append(Office(name: name, replica: replica, token: try token(.municipality(code))))
        }
        func engine(_ o: Office, token: String? = nil) throws -> SyncEngine {
            SyncEngine(replica: o.replica, client: try HubClient(url: url, token: token ?? o.token))
        }
        for o in offices {
            let r = try await engine(o).sync()
            say("   \(o.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(o.replica.municipality): pushed \(r.push.changes), pulled \(r.pull.changes)")
        }
        let (anna, bo, kalmar) = (offices[0], offices[1], offices[4])

        say("3. Offline work.")
        let venues = try anna.replica.records("venue").filter { $0["membership"] == .text("member") }
        guard venues.count >= 2 else { throw CLIFailure(message: "the fixture has too few venues", code: Exit.dataError) }
        let (v1, v2) = (venues[0], venues[1])
        try anna.replica.update("venue", id: v1.id, fields: ["staff_count": .integer(18), "contact_person": .text("Anna (local only)")])
        say("   Anna: \(v1["name"]) has 18 staff (and a contact person that stays on her laptop)")
        try await Task.sleep(nanoseconds: 10_000_000)
        try bo.replica.update("venue", id: v1.id, fields: ["staff_count": .integer(20)])
        say("   Bo, a moment later and not knowing: \(v1["name"]) has 20 staff")
        try anna.replica.delete("venue", id: v2.id)
        say("   Anna deletes \(v2["name"]); Bo records that it shows the KMK sign")
        try await Task.sleep(nanoseconds: 10_000_000)
        try bo.replica.update("venue", id: v2.id, fields: ["shows_signage": .integer(1)])
        try kalmar.replica.insert("venue", fields: ["name": .text("Hamnkrogen (fiktiv)"), "membership": .text("applicant")])
        say("   Kalmar adds a venue, but the nightly job was given Eskilstuna's token by mistake:")
        do {
            _ = try await engine(kalmar, token: anna.token).push()
            say("   (unexpected: the hub accepted it)")
        } catch let e as WireError {
            say("   refused by the hub (HTTP \(e.status)): \(e.message)")
        }

        say("4. Everyone syncs (Anna twice, to get what Bo pushed after her).")
        for o in offices + [anna] {
            let r = try await engine(o).sync()
            say("   \(o.name.padding(toLength: 11, withPad: " ", startingAt: 0)) pushed \(r.push.changes), pulled \(r.pull.changes)"
                + (r.pull.conflicts > 0 ? ", \(r.pull.conflicts) conflict\(r.pull.conflicts == 1 ? "" : "s") recorded" : ""))
        }

        say("5. Result")
        var converged = try anna.replica.export().encoded() == bo.replica.export().encoded()
        for o in offices {
            let local = try o.replica.checksum().checksum
            let hub = try store.checksum(municipality: o.replica.municipality.code).checksum
            converged = converged && local == hub
            say("   \(o.name.padding(toLength: 11, withPad: " ", startingAt: 0)) checksum \(local.prefix(12))… \(local == hub ? "= hub" : "≠ hub \(hub.prefix(12))…")")
        }
        say("   converged: \(converged ? "yes" : "NO")")
        say("   \(v1["name"]) staff: \(try anna.replica.record("venue", id: v1.id)?["staff_count"] ?? .null) (the later edit wins)")
        say("   merge ledger (kmk-sync conflicts):")
        let names = Dictionary(uniqueKeysWithValues: offices.map { ($0.replica.replicaID, $0.name) })
        for o in [anna, bo] {
            for e in try o.replica.conflicts(since: nil) {
                let kept = e.deleteWon ? "deleted" : e.winner.value.description
                say("     on \(o.name)'s replica: \(e.entity).\(e.field): kept \(kept) by \(names[e.winner.origin] ?? e.winner.origin), "
                    + "lost \(e.loser.value) by \(names[e.loser.origin] ?? e.loser.origin)")
            }
        }
        say("   national summary (as GET /v1/summary gives it to the styrgrupp):")
        for row in try store.summary(scope: .styrgrupp) where Municipality.byCode[row.municipality] != nil {
            let name = Municipality.byCode[row.municipality]?.name ?? row.municipality
            say("     \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(row.records["venue"] ?? 0) venues, "
                + "\(row.records["training"] ?? 0) trainings, \(row.records["round"] ?? 0) rounds, \(row.replicas) replica\(row.replicas == 1 ? "" : "s")")
        }

        say("6. Compliance: the styrgrupp publishes the KMK criteria as data; every replica pulls them.")
        let styrgrupp = try Replica.create(at: path("styrgrupp.kmk"), municipality: .national)
        try styrgrupp.setRemote(url: url)
        _ = try styrgrupp.publishDefaultCriteria()
        let published = try await SyncEngine(replica: styrgrupp, client: try HubClient(url: url, token: try token(.styrgrupp))).sync()
        say("   styrgrupp pushed \(published.push.changes) changes (\(CriteriaSet.kmkDefault.criteria.count) criteria)")
        for o in offices { _ = try await engine(o).pull() }
        let asOf = ISODate("2016-12-31")!
        let (national, reports) = try store.nationalReport(asOf: asOf)
        say("   national report on \(asOf) (GET /v1/reports/national, styrgrupp only; the dashboard is GET /):")
        for line in national.municipalities {
            let f = line.figures
            say("     \(line.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(f.memberVenues) members, \(f.compliantVenues) green, "
                + "\(f.openOverdueActions) overdue actions; municipality criteria \(line.meetsCriteria ? "met" : "not met")")
        }
        if let karlstad = reports.first(where: { $0.municipality == "1780" }), let venue = karlstad.venues.first {
            say("   why \(venue.name) (Karlstad) is \(venue.status.rawValue), as kmk-sync report compliance shows it:")
            for r in venue.results where r.mandatory && r.outcome != .met { say("     \(r.code): \(r.reason)") }
        }
        let own = try offices[3].replica.complianceReport(asOf: asOf)
        say("   Karlstad's own offline report agrees: \(own.figures == reports.first { $0.municipality == "1780" }?.figures ? "yes" : "NO")")
        styrgrupp.close()
        for o in offices { o.replica.close() }
        store.close()
        server.cancel()
        _ = try? await server.value
        if let keep { say("   files kept in \(keep)") }
        if !converged { throw CLIFailure(message: "the replicas did not converge", code: Exit.software) }
    }

    func findFixture(_ name: String) throws -> String {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [fixtures, "Fixtures"].compactMap { $0 }
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("Fixtures").path)
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates {
            let p = (c as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw CLIFailure.noInput("cannot find Fixtures/\(name); run from the repository, or pass --fixtures DIR")
    }
}
