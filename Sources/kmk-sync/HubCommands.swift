import ArgumentParser
import Foundation
import KMKHub
import KMKModel
import KMKReplica
import KMKSync
import Logging

/// `kmk-sync hub serve|token|backup|check|audit`: the national hub.
struct HubGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Run the national hub, manage its tokens, back it up, check its values and see who wrote what.",
        subcommands: [HubServe.self, TokenGroup.self, HubBackup.self, HubCheck.self, HubAudit.self]
    )
}

struct HubServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the hub over HTTP until SIGTERM or SIGINT (then in-flight requests finish and the store closes).",
        discussion: "With --port 0 an ephemeral port is bound; the first line on standard output is always "
            + "'listening on http://HOST:PORT'. Logs (one line per request) go to standard error."
    )

    /// The options' defaults are the hub's own (one place to change them).
    private static let defaults = HubConfiguration(databasePath: "")

    @Option(help: "The hub store file (created when missing).") var db: String
    @Option(help: "The address to listen on.") var host = defaults.host
    @Option(help: "The port; 0 binds an ephemeral one.") var port = defaults.port
    @Option(help: "The most changes one push batch may hold.") var maxBatchChanges = defaults.maxBatchChanges
    @Option(help: "The most bytes one push body may hold.") var maxBatchBytes = defaults.maxBatchBytes
    @Option(help: "The most changes one pull page returns.") var pageLimit = defaults.pageLimit
    @Option(help: "Refuse changes whose clock is more than this many seconds ahead of the hub's clock.")
    var maxDriftSeconds: UInt64 = defaults.maxDrift / 1000
    @Option(help: "Close a connection that sends nothing for this many seconds (mid-request or between requests).")
    var idleTimeout: Int64 = defaults.idleTimeoutSeconds
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard maxBatchChanges >= 1, maxBatchBytes >= 4096, pageLimit >= 1 else {
            throw ValidationError("--max-batch-changes and --page-limit must be at least 1, --max-batch-bytes at least 4096")
        }
        guard idleTimeout >= 1 else { throw ValidationError("--idle-timeout must be at least 1 second") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var config = HubConfiguration(databasePath: db)
        config.host = host
        config.port = port
        config.maxBatchChanges = maxBatchChanges
        config.maxBatchBytes = maxBatchBytes
        config.pageLimit = pageLimit
        config.maxDrift = maxDriftSeconds * 1000
        config.idleTimeoutSeconds = idleTimeout
        if let text = Environment.values["KMK_HUB_FAULT"], !text.isEmpty {
            guard let fault = HubFault(text: text) else { throw CLIFailure.usage("KMK_HUB_FAULT='\(text)' is not a known fault") }
            config.fault = fault
        }
        try await HubServer.run(config, logger: Logger(label: "kmk-sync.hub")) { address in
            FileHandle.standardOutput.write(Data("listening on \(address)\n".utf8))
        }
    }
}

struct TokenGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke hub tokens.",
        subcommands: [TokenCreate.self, TokenList.self, TokenRevoke.self]
    )
}

struct TokenCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a token and print it once on standard output (the hub keeps only its hash).",
        discussion: "Save it straight into a private file: umask 077; kmk-sync hub token create --db hub.db "
            + "--municipality 0484 > eskilstuna.kmk.token"
    )

    @Option(help: "The hub store file.") var db: String
    @Option(help: "A token for this municipality (kommunkod or name).") var municipality: String?
    @Flag(help: "A token for the national steering group.") var styrgrupp = false
    @Option(help: "A note to tell tokens apart, e.g. who holds it.") var label: String?

    func validate() throws {
        guard (municipality != nil) != styrgrupp else {
            throw ValidationError("give exactly one of --municipality CODE and --styrgrupp")
        }
    }

    func run() throws {
        let scope: HubScope = try municipality.map { .municipality(try Municipality.find($0).code) } ?? .styrgrupp
        let store = try HubStore.open(at: db)
        let (id, token) = try store.createToken(scope: scope, label: label)
        FileHandle.standardError.write(Data("created token \(id) for \(scope); it is shown only this once, keep it private\n".utf8))
        say(token)
    }
}

struct TokenList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the hub's tokens (never the tokens themselves).")

    @Option(help: "The hub store file.") var db: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CLIFailure.noInput("no hub store at \(db); check --db") }
        let tokens = try HubStore.open(at: db).tokens()
        var table = TextTable(header: ["id", "scope", "label", "created", "revoked"])
        for t in tokens {
            table.rows.append([t.id, t.scope.text, t.label ?? "", isoTime(t.createdAt), t.revokedAt.map(isoTime) ?? ""])
        }
        say(table.render())
    }
}

struct TokenRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: from now on it gets 401.")

    @Option(help: "The hub store file.") var db: String
    @Argument(help: "The token's id (from token list).") var id: String

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CLIFailure.noInput("no hub store at \(db); check --db") }
        try HubStore.open(at: db).revokeToken(id: id)
        say("revoked token \(id)")
    }
}

/// `kmk-sync hub audit`: who wrote what, by batch (SPEC.md §11.8).
struct HubAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List the batches the hub applied (token, label, replica, time), or which batch wrote each field of a record.",
        discussion: """
            The token is what the hub vouches for: a change's origin is only what the sending replica says \
            (SPEC.md §11.2). With --record, every field of the record (of any entity with that id) is listed with \
            the batch that wrote its current value. Reads only; may run beside a serving hub.
            """
    )

    @Option(help: "The hub store file.") var db: String
    @Option(help: "Only this municipality (kommunkod or name), or 'styrgrupp'.") var municipality: String?
    @Option(help: "List this record's fields with the batch that wrote each.") var record: String?
    @Option(help: "The most batches listed, newest first.") var limit = 50
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: db) else { throw CLIFailure.noInput("no hub store at \(db); check --db") }
        let scope: String? = try municipality.map { $0 == "styrgrupp" ? $0 : try Municipality.find($0).code }
        let store = try HubStore.open(at: db)
        defer { store.close() }
        if let record {
            let registers = try store.auditRecord(record, municipality: scope)
            guard !registers.isEmpty else {
                throw CLIFailure.noInput("the hub holds no record with id \(record)"
                    + (scope.map { " for \($0)" } ?? "") + "; check the id (kmk-sync venue list shows ids)")
            }
            if json {
                say("{\"record\":" + CanonicalJSON.string(record.lowercased()) + ",\"registers\":["
                    + registers.map { r in
                        "{\"change\":" + r.change.json() + ",\"batch\":" + (r.batch.map(Self.json) ?? "null") + "}"
                    }.joined(separator: ",") + "]}")
                return
            }
            var table = TextTable(header: ["entity", "field", "value", "clock", "origin", "written", "token", "label", "replica", "batch"])
            for r in registers {
                let c = r.change
                let kind = store.schema.entity(c.entity)?.field(c.field)?.kind
                let value = kind.map { CanonicalJSON.value(c.value, kind: $0) } ?? "\(c.value.integer ?? 0)"
                table.rows.append([c.entity, c.field, value, c.clock.iso, c.origin,
                                   r.batch.map { isoTime($0.at) } ?? "before audit", r.batch?.token ?? "", r.batch?.label ?? "",
                                   r.batch?.replica ?? "", r.batch.map { "\($0.batch)" } ?? ""])
            }
            say(table.render())
            return
        }
        let batches = try store.auditBatches(municipality: scope, limit: limit)
        if json {
            say("{\"batches\":[" + batches.map(Self.json).joined(separator: ",") + "]}")
            return
        }
        var table = TextTable(header: ["applied at", "scope", "token", "label", "replica", "batch", "changes", "won"])
        for b in batches {
            table.rows.append([isoTime(b.at), b.scope, b.token ?? "", b.label ?? "", b.replica, "\(b.batch)", "\(b.changes)",
                               "\(b.applied)"])
        }
        say(table.render())
    }

    static func json(_ b: HubBatchRecord) -> String {
        CanonicalJSON.object([
            ("id", "\(b.id)"), ("at", "\(b.at)"), ("token", b.token.map(CanonicalJSON.string) ?? "null"),
            ("label", b.label.map(CanonicalJSON.string) ?? "null"), ("replica", CanonicalJSON.string(b.replica)),
            ("scope", CanonicalJSON.string(b.scope)), ("batch", "\(b.batch)"), ("changes", "\(b.changes)"),
            ("applied", "\(b.applied)"),
        ])
    }
}
