import ArgumentParser
import Foundation
import KMKHub
import KMKModel
import KMKReplica
import KMKSync
import Logging

/// `kmk-sync hub serve|token`: the national hub.
struct HubGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Run the national hub and manage its tokens.",
        subcommands: [HubServe.self, TokenGroup.self, HubBackup.self]
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
