import ArgumentParser
import Foundation
import KMKClient
import KMKModel
import KMKReplica
import KMKSync

/// Options shared by the commands that talk to the hub.
struct HubClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the hub token from this file (else $KMK_TOKEN, else REPLICA.token).", valueName: "file"))
    var tokenFile: String?
    @Option(help: "Attempts per request for connection errors and 5xx answers (with exponential backoff and jitter).")
    var retries = 4
    @Option(help: "Seconds before one request times out.") var timeout: Double = 30
    @Flag(help: "Print nothing but errors.") var quiet = false

    func client(for replica: Replica) throws -> HubClient {
        guard let url = try replica.remoteState().url else {
            throw ClientError(.notConfigured, "this replica has no hub; set one with: kmk-sync remote set --replica \(replica.path) URL")
        }
        let token = try TokenSource.token(file: tokenFile, environment: Environment.values, replicaPath: replica.path)
        let base = UInt64(Environment.values["KMK_RETRY_BASE_MS"] ?? "") ?? 500
        return try HubClient(url: url, token: token, retry: RetryPolicy(attempts: retries, baseMillis: base, timeout: timeout))
    }

    /// The sync engine, with the test fault (`KMK_CLIENT_FAULT`) and a progress line on a terminal.
    func engine(_ replica: Replica) throws -> SyncEngine {
        var engine = SyncEngine(replica: replica, client: try client(for: replica))
        if let text = Environment.values["KMK_CLIENT_FAULT"], !text.isEmpty {
            guard let fault = SyncEngine.Fault(text: text) else { throw CLIFailure.usage("KMK_CLIENT_FAULT='\(text)' is not a known fault") }
            engine.fault = fault
        }
        if let n = Int(Environment.values["KMK_BATCH_CHANGES"] ?? "") { engine.maxBatchChanges = max(1, n) }
        if let n = Int(Environment.values["KMK_PAGE_LIMIT"] ?? "") { engine.pageLimit = max(1, n) }
        if !quiet, isatty(STDERR_FILENO) == 1 {
            engine.progress = { line in FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8)) }
        }
        return engine
    }

    func finishProgress() {
        if !quiet, isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    func say(_ text: String) {
        if !quiet { print(text) }
    }
}

/// `kmk-sync remote set|show`.
struct RemoteGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "Set or show the hub this replica syncs with.", subcommands: [RemoteSet.self, RemoteShow.self]
    )
}

struct RemoteSet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Store the hub's URL in the replica.")
    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The hub's URL, e.g. http://hub.example:8080") var url: String

    func run() throws {
        guard let u = URL(string: url), u.scheme == "http" || u.scheme == "https", u.host != nil else {
            throw CLIFailure.usage("'\(url)' is not a hub URL; use the form http://HOST:PORT")
        }
        let replica = try options.open()
        try replica.setRemote(url: url)
        say("hub for \(replica.municipality) set to \(url)")
    }
}

struct RemoteShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the hub's URL.")
    @OptionGroup var options: ReplicaOptions

    func run() throws {
        guard let url = try options.open().remoteState().url else { throw CLIFailure.noInput("no hub set; use kmk-sync remote set URL") }
        say(url)
    }
}

/// Runs a push/pull/sync body under the replica lock and records its outcome in the replica.
func withSyncRun<T>(_ replica: Replica, kinds: [String], _ body: () async throws -> (T, String)) async throws -> T {
    let lock = try ReplicaLock(replicaPath: replica.path)
    defer { withExtendedLifetime(lock) {} }
    do {
        let (result, outcome) = try await body()
        for k in kinds { try? replica.recordOutcome(k, "ok: " + outcome) }
        return result
    } catch {
        let message = Exit.classify(error)?.message ?? "\(error)"
        for k in kinds { try? replica.recordOutcome(k, "failed: " + message) }
        throw error
    }
}

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Send this replica's pending changes to the hub, in numbered batches (safe to re-run)."
    )
    @OptionGroup var options: ReplicaOptions
    @OptionGroup var hub: HubClientOptions

    func run() async throws {
        let replica = try options.open()
        let engine = try hub.engine(replica)
        let s = try await withSyncRun(replica, kinds: ["push"]) {
            let s = try await engine.push()
            return (s, "\(s.changes) changes in \(s.batches) batch\(s.batches == 1 ? "" : "es")")
        }
        hub.finishProgress()
        hub.say(s.batches == 0 ? "nothing to push" : "pushed \(s.changes) changes in \(s.batches) batch\(s.batches == 1 ? "" : "es") (\(s.applied) new on the hub)")
    }
}

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch and merge the hub's changes, page by page (an interrupted pull resumes)."
    )
    @OptionGroup var options: ReplicaOptions
    @OptionGroup var hub: HubClientOptions

    func run() async throws {
        let replica = try options.open()
        let engine = try hub.engine(replica)
        let s = try await withSyncRun(replica, kinds: ["pull"]) {
            let s = try await engine.pull()
            return (s, "\(s.changes) changes in \(s.pages) page\(s.pages == 1 ? "" : "s")")
        }
        hub.finishProgress()
        hub.say(pullLine(s))
    }
}

func pullLine(_ s: SyncEngine.PullSummary) -> String {
    var line = "pulled \(s.changes) changes in \(s.pages) page\(s.pages == 1 ? "" : "s") (\(s.applied) applied"
    if s.conflicts > 0 { line += ", \(s.conflicts) conflicts: see kmk-sync conflicts" }
    line += ")"
    if s.restarted { line += "; the hub was restored from a backup, so everything was pulled and pushed again" }
    if s.quarantined > 0 {
        line += "; \(s.quarantined) change\(s.quarantined == 1 ? "" : "s") could not be applied and \(s.quarantined == 1 ? "was" : "were") "
            + "set aside (kmk-sync status lists them)"
    }
    if s.released > 0 { line += "; \(s.released) change\(s.released == 1 ? "" : "s") set aside earlier applied now" }
    return line
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Push, then pull, then push again if needed: the nightly job (safe to re-run).",
        discussion: Exit.help
    )
    @OptionGroup var options: ReplicaOptions
    @OptionGroup var hub: HubClientOptions
    @Flag(help: "Print one JSON summary line on standard output (also on failure), for logs; nothing else.") var json = false
    @Flag(help: "Send the whole change log again and pull everything from the start: the repair when check or status says the replica and the hub differ.")
    var full = false

    func run() async throws {
        let started = Date()
        var replica: Replica?
        do {
            let opened = try options.open()
            replica = opened
            var hub = hub
            if json { hub.quiet = true }
            let engine = try hub.engine(opened)
            let (pushed, pulled) = try await withSyncRun(opened, kinds: ["push", "pull"]) {
                let r = try await engine.sync(full: full)
                return (r, "pushed \(r.push.changes), pulled \(r.pull.changes)")
            }
            hub.finishProgress()
            if json {
                print(SyncCommand.summary(replica: opened, started: started, code: 0, error: nil, push: pushed, pull: pulled))
                return
            }
            hub.say(pushed.batches == 0 ? "nothing to push" : "pushed \(pushed.changes) changes in \(pushed.batches) batch\(pushed.batches == 1 ? "" : "es")")
            hub.say(pullLine(pulled))
        } catch {
            if json {
                let (message, code) = Exit.classify(error) ?? ("\(error)", Exit.software)
                print(SyncCommand.summary(replica: replica, started: started, code: code, error: message, push: nil, pull: nil))
            }
            throw error
        }
    }

    /// The `sync --json` line (SPEC.md §10): one JSON object, members sorted.
    static func summary(replica: Replica?, started: Date, code: Int32, error: String?,
                        push: SyncEngine.PushSummary?, pull: SyncEngine.PullSummary?) -> String {
        CanonicalJSON.object([
            ("at", CanonicalJSON.string(isoTime(UInt64(Date().timeIntervalSince1970 * 1000)))),
            ("replica", replica.map { CanonicalJSON.string($0.replicaID) } ?? "null"),
            ("municipality", replica.map { CanonicalJSON.string($0.municipality.code) } ?? "null"),
            ("ok", code == 0 ? "true" : "false"), ("exit", String(code)),
            ("error", error.map(CanonicalJSON.string) ?? "null"),
            ("seconds", String(format: "%.3f", Date().timeIntervalSince(started))),
            ("pushed", String(push?.changes ?? 0)), ("push_batches", String(push?.batches ?? 0)),
            ("pulled", String(pull?.changes ?? 0)), ("pull_pages", String(pull?.pages ?? 0)),
            ("applied", String(pull?.applied ?? 0)), ("conflicts", String(pull?.conflicts ?? 0)),
            ("hub_restored", (pull?.restarted ?? false) || (push?.restarts ?? 0) > 0 ? "true" : "false"),
            ("pending", replica.flatMap { try? $0.pendingOutgoing() }.map(String.init) ?? "null"),
            ("quarantined", String(pull?.quarantined ?? 0)),
            ("quarantine", replica.flatMap { try? $0.quarantineCount() }.map(String.init) ?? "null"),
        ])
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show pending changes, the last push and pull, the hub and whether replica and hub agree."
    )
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("Read the hub token from this file (else $KMK_TOKEN, else REPLICA.token).", valueName: "file"))
    var tokenFile: String?
    @Option(help: "Seconds to wait for the hub.") var timeout: Double = 5
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let replica = try options.open()
        let state = try replica.remoteState()
        let pending = try replica.pendingOutgoing()
        let local = try replica.checksum()
        var reachable = false
        var hubID: String?
        var hubSum: String?
        var problem: String?
        if let url = state.url {
            do {
                let token = try? TokenSource.token(file: tokenFile, environment: Environment.values, replicaPath: replica.path)
                let client = try HubClient(url: url, token: token ?? "", retry: RetryPolicy(attempts: 1, timeout: timeout))
                hubID = try await client.health(attempts: 1).hub
                reachable = true
                if token != nil {
                    hubSum = try await client.checksum(municipality: replica.municipality.isNational ? "national" : replica.municipality.code).checksum
                } else {
                    problem = "no token, so the checksum was not compared"
                }
            } catch {
                problem = Exit.classify(error)?.message ?? "\(error)"
            }
        }
        let inStep = hubSum.map { $0 == local.checksum }
        let setAside = try replica.quarantine(limit: 5)
        let setAsideCount = try replica.quarantineCount()
        if json {
            var members: [(String, String)] = [
                ("replica", CanonicalJSON.string(replica.replicaID)), ("municipality", CanonicalJSON.string(replica.municipality.code)),
                ("hub_url", state.url.map(CanonicalJSON.string) ?? "null"), ("reachable", String(reachable)),
                ("hub", hubID.map(CanonicalJSON.string) ?? "null"), ("pending", String(pending)),
                ("checksum", CanonicalJSON.string(local.checksum)), ("hub_checksum", hubSum.map(CanonicalJSON.string) ?? "null"),
                ("in_step", inStep.map(String.init) ?? "null"), ("problem", problem.map(CanonicalJSON.string) ?? "null"),
                ("quarantine", String(setAsideCount)),
            ]
            for (name, last) in [("last_push", state.lastPush), ("last_pull", state.lastPull)] {
                members.append((name, last.map { "{\"at\":\(CanonicalJSON.string(isoTime($0.at))),\"outcome\":\(CanonicalJSON.string($0.outcome))}" } ?? "null"))
            }
            say(CanonicalJSON.object(members))
            return
        }
        say("replica    \(replica.replicaID) \(replica.municipality) (\(replica.path))")
        say("hub        \(state.url ?? "none set (kmk-sync remote set URL)")" + (state.url == nil ? "" : reachable ? " reachable" : " UNREACHABLE"))
        say("pending    \(pending) change\(pending == 1 ? "" : "s") not yet pushed")
        say("last push  " + (state.lastPush.map { "\(isoTime($0.at)) \($0.outcome)" } ?? "never"))
        say("last pull  " + (state.lastPull.map { "\(isoTime($0.at)) \($0.outcome)" } ?? "never"))
        switch inStep {
        case true?: say("checksum   equal to the hub's (\(local.count) registers)")
        case false?: say("checksum   differs from the hub's: " + (try replica.differenceAdvice(pending: pending)))
        case nil: say("checksum   not compared" + (problem.map { ": \($0)" } ?? ""))
        }
        if setAsideCount > 0 {
            say("set aside  \(setAsideCount) change\(setAsideCount == 1 ? "" : "s") received that this replica cannot apply "
                + "(kept, and tried again at every sync; an upgrade of kmk-sync or a repair on the hub may be needed):")
            for e in setAside {
                say("           \(e.change.entity ?? "?") \(e.change.id ?? "?") \(e.change.field ?? "?") (\(e.source)): \(e.change.reason)")
            }
            if setAsideCount > setAside.count { say("           and \(setAsideCount - setAside.count) more") }
        }
    }
}

/// Milliseconds since 1970 as ISO 8601 UTC.
func isoTime(_ ms: UInt64) -> String { HLC(millis: ms, counter: 0).iso }
