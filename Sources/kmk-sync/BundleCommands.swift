import ArgumentParser
import Foundation
import KMKModel
import KMKReplica
import KMKSync

/// `kmk-sync bundle create|apply`: changes on a USB stick.
struct BundleGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Carry changes between replicas of one municipality as a file (e.g. on a USB stick).",
        subcommands: [BundleCreate.self, BundleApply.self]
    )
}

struct BundleCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Write this replica's changes to a bundle file (checksummed; personal data never included)."
    )

    @OptionGroup var options: ReplicaOptions
    @Option(help: "The bundle file to write.") var out: String
    @Option(name: .customLong("for"), help: "Only what this replica (id) lacks, as far as its last bundle told.")
    var target: String?
    @Flag(help: "Every change (the default).") var all = false

    func validate() throws {
        if all, target != nil { throw ValidationError("give either --for REPLICA_ID or --all, not both") }
    }

    func run() throws {
        let replica = try options.open()
        let bundle = try replica.makeBundle(for: all ? nil : target?.lowercased())
        let temp = out + ".partial"
        guard FileManager.default.createFile(atPath: temp, contents: Data(bundle.encoded().utf8)) else {
            throw CLIFailure(message: "cannot write \(out); check the folder exists and is writable", code: Exit.cannotCreate)
        }
        _ = try? FileManager.default.removeItem(atPath: out)
        try FileManager.default.moveItem(atPath: temp, toPath: out)
        say("wrote \(bundle.changes.count) changes to \(out)")
    }
}

struct BundleApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Merge a bundle file into this replica, all or nothing."
    )

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The bundle file.") var file: String
    @Option(help: "Refuse changes whose clock is more than this many seconds ahead of this machine's clock.")
    var maxDriftSeconds: UInt64 = Replica.defaultMaxDrift / 1000

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIFailure.noInput("cannot read \(file); check the path")
        }
        let replica = try options.open()
        let result = try replica.applyBundle(String(decoding: data, as: UTF8.self), file: file,
                                             maxDrift: maxDriftSeconds * 1000)
        say("applied \(result.applied) changes (\(result.ignored) already here or older), \(result.conflicts.count) conflicts"
            + (result.conflicts.isEmpty ? "" : "; see: kmk-sync conflicts"))
    }
}

/// `kmk-sync conflicts [--since DATE] [--json]`
struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "List the merge ledger: edits that lost to a concurrent edit or delete, and to whom."
    )

    @OptionGroup var options: ReplicaOptions
    @Option(help: "Only conflicts resolved on or after this date (YYYY-MM-DD).") var since: String?
    @Flag(help: "Print JSON, one entry per line.") var json = false

    func run() throws {
        let from = try since.map { text -> UInt64 in
            guard let ms = HLC.parseTime(text) else { throw CLIFailure.usage("--since '\(text)' is not a date YYYY-MM-DD") }
            return ms
        }
        let replica = try options.open()
        let entries = try replica.conflicts(since: from)
        func who(_ origin: String) -> String { origin == replica.replicaID ? "this replica" : origin }
        func show(_ e: LedgerEntry, _ s: RegisterState, isWinner: Bool) -> String {
            if e.deleteWon, isWinner { return "deleted" }
            return Schema.current.entity(e.entity)?.field(e.field)?.display(s.value) ?? s.value.description
        }
        if json {
            let lines = entries.map { e -> String in
                let kind = Schema.current.entity(e.entity)?.field(e.field)?.kind ?? .text(maxLength: .max)
                func side(_ s: RegisterState, _ winner: Bool) -> String {
                    CanonicalJSON.object([
                        ("value", e.deleteWon && winner ? "\"deleted\"" : CanonicalJSON.value(s.value, kind: kind)),
                        ("clock", CanonicalJSON.string(s.clock.hex)), ("time", CanonicalJSON.string(s.clock.iso)),
                        ("origin", CanonicalJSON.string(s.origin)),
                    ])
                }
                return CanonicalJSON.object([
                    ("entity", CanonicalJSON.string(e.entity)), ("id", CanonicalJSON.string(e.id)),
                    ("field", CanonicalJSON.string(e.field)), ("kind", e.deleteWon ? "\"delete-won\"" : "\"concurrent-edit\""),
                    ("winner", side(e.winner, true)), ("loser", side(e.loser, false)),
                    ("resolved_at", CanonicalJSON.string(e.resolvedAt.iso)),
                ])
            }
            say(lines.isEmpty ? "[]" : "[\n" + lines.joined(separator: ",\n") + "\n]")
            return
        }
        if entries.isEmpty {
            say("no conflicts")
            return
        }
        var table = TextTable(header: ["resolved", "entity", "id", "field", "kept", "by", "lost", "by"])
        for e in entries {
            table.rows.append([e.resolvedAt.iso, e.entity, e.id, e.field, show(e, e.winner, isWinner: true),
                               who(e.winner.origin), show(e, e.loser, isWinner: false), who(e.loser.origin)])
        }
        say(table.render())
    }
}
