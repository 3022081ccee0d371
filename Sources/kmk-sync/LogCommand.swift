import KMKSync
import Foundation
import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync log [--limit N] [--json]`
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "List the change log, newest first: the latest write of each field with its clock and origin."
    )

    @OptionGroup var options: ReplicaOptions
    @Option(help: "How many entries.") var limit = 20
    @Flag(help: "Print JSON, one change per line.") var json = false

    func run() throws {
        let replica = try options.open()
        let entries = try replica.log(limit: limit)
        if json {
            let lines = entries.map { entry -> String in
                let c = entry.change
                let kind = Schema.current.entity(c.entity)?.field(c.field)?.kind ?? .integer(min: 0, max: .max)
                return CanonicalJSON.object([
                    ("seq", entry.seq.map { String($0) } ?? "null"),
                    ("entity", CanonicalJSON.string(c.entity)), ("id", CanonicalJSON.string(c.id)),
                    ("field", CanonicalJSON.string(c.field)), ("value", CanonicalJSON.value(c.value, kind: kind)),
                    ("clock", CanonicalJSON.string(c.clock.hex)), ("time", CanonicalJSON.string(c.clock.iso)),
                    ("origin", CanonicalJSON.string(c.origin)),
                ])
            }
            say(lines.isEmpty ? "[]" : "[\n" + lines.joined(separator: ",\n") + "\n]")
            return
        }
        var table = TextTable(header: ["seq", "clock", "time", "origin", "entity", "id", "field", "value"])
        for entry in entries {
            let c = entry.change
            let value: String
            if c.isLifecycle {
                let n = c.value.integer ?? 0
                value = n % 2 == 1 ? (n == 1 ? "created" : "re-created") : "deleted"
            } else {
                value = Schema.current.entity(c.entity)?.field(c.field)?.display(c.value) ?? c.value.description
            }
            table.rows.append([entry.seq.map(String.init) ?? "pending", c.clock.hex, c.clock.iso,
                               c.origin == replica.replicaID ? "local" : String(c.origin.prefix(8)),
                               c.entity, c.id, c.isLifecycle ? "(row)" : c.field, value])
        }
        say(table.render())
    }
}
