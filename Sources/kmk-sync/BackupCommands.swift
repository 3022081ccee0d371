import ArgumentParser
import Foundation
import KMKClient
import KMKModel
import KMKReplica

/// `kmk-sync backup --out FILE`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the replica with SQLite's online backup API (safe while others use it).",
        discussion: """
            To restore, stop every kmk-sync on the replica and copy the backup over the replica file. \
            Then run kmk-sync sync: the hub sends what the backup lacks. Never use a backup and its \
            original side by side: they share a replica id.
            """
    )
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("Where to write the backup.", valueName: "file")) var out: String
    @Flag(help: "Replace an existing file at --out.") var force = false

    func run() throws {
        let replica = try options.open()
        try replica.backup(to: out, overwrite: force)
        say("backed up \(replica.municipality)'s replica \(replica.replicaID) to \(out)")
    }
}

/// `kmk-sync hub backup --db PATH --out FILE`
struct HubBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the hub store while the hub keeps serving.",
        discussion: """
            To restore, stop the hub, copy the backup over the store and start it again. Replicas notice \
            at their next sync (their cursors are ahead of the restored hub) and push again what it lacks.
            """
    )
    @Option(help: ArgumentHelp("The hub store.", valueName: "path")) var db: String
    @Option(help: ArgumentHelp("Where to write the backup.", valueName: "file")) var out: String
    @Flag(help: "Replace an existing file at --out.") var force = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CLIFailure.noInput("no hub store at \(db); check --db") }
        let store = try HubStore.open(at: db)
        defer { store.close() }
        try store.backup(to: out, overwrite: force)
        say("backed up hub \(store.hubID) to \(out)")
    }
}

/// `kmk-sync check`
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify the replica: SQLite integrity, the change log, the records against it, the cursors, and the checksum against the hub.",
        discussion: "Reads only. Exit 0 when everything holds, 65 when a check failed, 69 when the hub could not be asked (unless --offline)."
    )
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("Read the hub token from this file (else $KMK_TOKEN, else REPLICA.token).", valueName: "file"))
    var tokenFile: String?
    @Option(help: "Seconds to wait for the hub.") var timeout: Double = 10
    @Flag(help: "Skip the comparison with the hub (offline).") var offline = false
    @Flag(help: "Print JSON, one object.") var json = false

    func run() async throws {
        let replica = try options.open()
        var findings = try replica.check()
        var hubUnreachable: String?
        if !offline, let url = try replica.remoteState().url {
            let local = try replica.checksum()
            let pending = try replica.pendingOutgoing()
            do {
                let token = try TokenSource.token(file: tokenFile, environment: Environment.values, replicaPath: replica.path)
                let client = try HubClient(url: url, token: token, retry: RetryPolicy(attempts: 1, timeout: timeout))
                let hub = try await client.checksum(municipality: replica.municipality.isNational ? "national" : replica.municipality.code)
                let ok = hub.checksum == local.checksum
                let waiting = pending > 0 ? ", \(pending) changes not yet pushed" : ""
                let detail = ok ? "equal to the hub's (\(local.count) registers)"
                    : "differs from the hub's (\(local.count) registers here, \(hub.count) on the hub\(waiting)): "
                        + (try replica.differenceAdvice(pending: pending))
                findings.append(CheckFinding(name: "hub checksum", ok: ok, detail: detail))
            } catch {
                let message = Exit.classify(error)?.message ?? "\(error)"
                hubUnreachable = message
                findings.append(CheckFinding(name: "hub checksum", ok: false, detail: "not compared: \(message)"))
            }
        }
        if json {
            let items = findings.map {
                CanonicalJSON.object([("check", CanonicalJSON.string($0.name)), ("ok", String($0.ok)),
                                      ("detail", CanonicalJSON.string($0.detail))])
            }
            say(CanonicalJSON.object([("replica", CanonicalJSON.string(replica.replicaID)),
                                      ("ok", String(findings.allSatisfy(\.ok))),
                                      ("checks", "[" + items.joined(separator: ",") + "]")]))
        } else {
            for f in findings { say("\(f.ok ? "ok  " : "FAIL") \(f.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(f.detail)") }
        }
        let failed = findings.filter { !$0.ok && $0.name != "hub checksum" && $0.name != "quarantine" }
        if !failed.isEmpty {
            throw CLIFailure(message: "the replica failed \(failed.count) check\(failed.count == 1 ? "" : "s"): "
                + failed.map(\.name).joined(separator: ", ") + "; restore it from a backup or re-create it and pull", code: Exit.dataError)
        }
        if let q = findings.first(where: { $0.name == "quarantine" }), !q.ok {
            throw CLIFailure(message: "\(q.detail). The rest of the replica is sound; kmk-sync status lists them. They are tried "
                + "again at every sync: an upgrade of kmk-sync, or a repair on the hub (kmk-sync hub check), lets them apply", code: Exit.dataError)
        }
        if let hubUnreachable, findings.last?.name == "hub checksum" {
            throw CLIFailure(message: "the checksum was not compared with the hub: \(hubUnreachable)", code: Exit.unavailable)
        }
        if let last = findings.last, last.name == "hub checksum", !last.ok {
            throw CLIFailure(message: "the replica and the hub differ: " + (last.detail.split(separator: ": ").last.map(String.init) ?? "run kmk-sync sync --full"),
                             code: Exit.dataError)
        }
    }
}
