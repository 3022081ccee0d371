import ArgumentParser
import Foundation
import KMKModel
import KMKReplica

/// `kmk-sync hub check --db PATH`: the values the hub holds that no replica can store.
struct HubCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List the values the hub holds that break the field rules, and what makes them storable.",
        discussion: """
            A hub older than the one field rule (SPEC.md §1, "Values") accepted text that no replica can store \
            (over its limit in code points, or with a NUL) and changes that cleared a required field. A replica \
            refuses such a value when it pulls it. Each finding names the municipality, entity, id and field, \
            says why, and says how to replace it: a newer valid write from a replica of that municipality. \
            Reads only; it can run while the hub serves. Exit 0 when nothing is found, 65 when something is.
            """
    )
    @Option(help: ArgumentHelp("The hub store.", valueName: "path")) var db: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CLIFailure.noInput("no hub store at \(db); check --db") }
        let store = try HubStore.open(at: db)
        defer { store.close() }
        let findings = try store.check()
        guard !findings.isEmpty else {
            say("ok: every value the hub holds keeps the field rules")
            return
        }
        for f in findings {
            say("\(f.municipality ?? "national") \(f.entity) \(f.id) \(f.field): \(f.why)\n    to fix: \(f.fix)")
        }
        func summary(_ list: [HubFinding], _ what: String) -> String? {
            guard !list.isEmpty else { return nil }
            let municipalities = Set(list.map { $0.municipality ?? "national" }).sorted()
            return "\(list.count) \(what) (\(municipalities.joined(separator: ", ")))"
        }
        let parts = [
            summary(findings.filter(\.blocksPulls), "value(s) no replica can take: these municipalities' pulls stop at them"),
            summary(findings.filter { !$0.blocksPulls }, "record(s) without a required field"),
        ].compactMap { $0 }
        throw CLIFailure(message: parts.joined(separator: "; ") + "; replace each as shown", code: Exit.dataError)
    }
}
