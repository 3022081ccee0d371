import ArgumentParser
import Foundation
import KMKModel
import KMKReplica
import KMKSync

/// `kmk-sync demo`: two officials of one municipality work offline and reconcile by bundles.
/// (The hub arrives with the hub issue; the demo will then sync through it.)
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show offline work and merging on the seed fixtures, in a temporary folder."
    )

    @Option(help: "Keep the replicas and bundles in this folder instead of a temporary one.") var keep: String?
    @Option(help: "The Fixtures folder (default: ./Fixtures, or beside the binary's package).") var fixtures: String?

    func run() throws {
        let fm = FileManager.default
        let dir = keep ?? fm.temporaryDirectory.appendingPathComponent("kmk-demo-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? fm.removeItem(atPath: dir) } }
        let fixture = try findFixture("0484-eskilstuna.json")
        let esk = try Municipality.find("0484")
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

        say("1. Anna and Bo, two officials in \(esk), each create a replica; Anna loads the fixture.")
        let anna = try Replica.create(at: path("anna.kmk"), municipality: esk)
        let bo = try Replica.create(at: path("bo.kmk"), municipality: esk)
        let doc = try ExportDocument.decode(String(decoding: fm.contents(atPath: fixture) ?? Data(), as: UTF8.self), file: fixture)
        let loaded = try anna.importRecords(doc.records, mode: .replace)
        say("   imported \(loaded.created) records into Anna's replica")
        let toBo = try anna.makeBundle(for: nil).encoded()
        try toBo.write(toFile: path("anna-1.bundle"), atomically: true, encoding: .utf8)
        let first = try bo.applyBundle(toBo, file: "anna-1.bundle")
        say("   Bo applies Anna's bundle: \(first.applied) changes")

        say("2. Both work offline.")
        let venues = try anna.records("venue").filter { $0["membership"] == .text("member") }
        guard venues.count >= 2 else { throw CLIFailure(message: "the fixture has too few venues", code: Exit.dataError) }
        let (v1, v2) = (venues[0], venues[1])
        try anna.update("venue", id: v1.id, fields: ["staff_count": .integer(18), "contact_person": .text("Anna (local only)")])
        say("   Anna: \(v1["name"]) has 18 staff (and a contact person that stays on her laptop)")
        Thread.sleep(forTimeInterval: 0.01)
        try bo.update("venue", id: v1.id, fields: ["staff_count": .integer(20)])
        say("   Bo, a moment later: \(v1["name"]) has 20 staff")
        try anna.delete("venue", id: v2.id)
        say("   Anna deletes \(v2["name"])")
        Thread.sleep(forTimeInterval: 0.01)
        try bo.update("venue", id: v2.id, fields: ["shows_signage": .integer(1)])
        say("   Bo, not knowing, records that \(v2["name"]) shows the KMK sign")

        say("3. They swap bundles on a USB stick.")
        let fromAnna = try anna.makeBundle(for: bo.replicaID).encoded()
        let fromBo = try bo.makeBundle(for: anna.replicaID).encoded()
        let ra = try anna.applyBundle(fromBo, file: "bo.bundle")
        let rb = try bo.applyBundle(fromAnna, file: "anna.bundle")
        say("   Anna applies \(ra.applied) changes, Bo \(rb.applied)")
        let karlstad = try Replica.create(at: path("karlstad.kmk"), municipality: try Municipality.find("1780"))
        do {
            try karlstad.applyBundle(fromAnna, file: "anna.bundle")
        } catch {
            say("   Karlstad's replica refuses Eskilstuna's bundle: \(error)")
        }

        say("4. Result")
        let same = try anna.export().encoded() == bo.export().encoded()
        say("   converged: \(same ? "yes, both replicas export the same bytes" : "NO")")
        say("   \(v1["name"]) staff: \(try anna.record("venue", id: v1.id)?["staff_count"] ?? .null) (the later edit wins)")
        say("   \(v2["name"]): \(try anna.record("venue", id: v2.id) == nil ? "deleted (a delete is not undone by a concurrent edit)" : "present")")
        say("   merge ledger on Anna's replica:")
        for e in try anna.conflicts(since: nil) {
            let who = { (o: String) in o == anna.replicaID ? "Anna" : o == bo.replicaID ? "Bo" : o }
            let kept = e.deleteWon ? "deleted" : e.winner.value.description
            say("     \(e.entity).\(e.field): kept \(kept) by \(who(e.winner.origin)), lost \(e.loser.value) by \(who(e.loser.origin))")
        }
        let members = try anna.records("venue").filter { $0["membership"] == .text("member") }.count
        let open = try anna.records("action").filter { $0["status"] == .text("open") }.count
        say("   \(esk): \(members) member venues, \(open) open actions, \(try anna.records("training").count) trainings")
        if let keep { say("   files kept in \(keep)") }
        if !same { throw CLIFailure(message: "the replicas did not converge", code: Exit.software) }
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
