import Foundation
import KMKModel
import KMKReplica
import KMKSync

/// The hub store behind an actor: requests reach the one SQLite connection one at a time.
actor HubService {
    private let store: HubStore
    private let fault: HubFault?
    private var pushCommits = 0
    private var pullReplies = 0
    /// Whether a write was committed since the last checkpoint (``checkpointIfWritten()``).
    private var written = false
    nonisolated let hubID: String
    nonisolated let schemaVersion: Int

    init(path: String, fault: HubFault?) throws {
        let store = try HubStore.open(at: path)
        self.store = store
        self.fault = fault
        self.hubID = store.hubID
        self.schemaVersion = store.schema.version
    }

    func authenticate(_ token: String) throws -> HubScope? { try store.authenticate(token) }

    func identify(_ token: String) throws -> (id: String, scope: HubScope)? { try store.identify(token) }

    func push(_ batch: PushBatch, scope: HubScope, token: String, maxDrift: UInt64) throws -> HubStore.PushOutcome {
        let digest = BatchDigest(batch)
        let outcome = try store.push(batch, scope: scope, token: token, maxDrift: maxDrift, digest: digest.value)
        if case .accepted(let reply) = outcome, !reply.duplicate {
            written = true
            pushCommits += 1
            if case .exitAfterPushCommit(let n)? = fault, n == pushCommits { HubService.die("after push commit \(n)") }
        }
        return outcome
    }

    func pull(cursor: String?, scope: HubScope, limit: Int, nationalOnly: Bool) throws -> HubStore.PullOutcome {
        let outcome = try store.pull(cursor: cursor, scope: scope, limit: limit, nationalOnly: nationalOnly)
        pullReplies += 1
        if case .exitBeforePullReply(let n)? = fault, n == pullReplies { HubService.die("before pull reply \(n)") }
        return outcome
    }

    func checksum(municipality: String) throws -> (checksum: String, count: Int) {
        try store.checksum(municipality: municipality)
    }

    func summary(scope: HubScope) throws -> [HubSummaryRow] { try store.summary(scope: scope) }

    func replica(_ id: String) throws -> (scope: String, lastBatch: Int64)? { try store.replica(id) }

    func counts() throws -> (registers: Int, seq: Int64) { try store.counts() }

    func nationalReport(asOf: ISODate) throws -> (national: NationalReport, municipalities: [MunicipalityReport]) {
        try store.nationalReport(asOf: asOf)
    }

    func municipalityReport(_ code: String, asOf: ISODate) throws -> MunicipalityReport? {
        try store.municipalityReport(code, asOf: asOf)
    }

    func close() {
        closed = true
        store.close()
    }

    /// Set once the store is closed: nothing reaches it afterwards.
    private var closed = false

    /// Copies the store's WAL into its file when anything was written since the last call, so
    /// that the file alone holds every committed push within seconds (SPEC.md §11.1); passive:
    /// it never holds up a request.
    func checkpointIfWritten() {
        guard written, !closed else { return }
        written = !store.checkpoint()
    }

    private static func die(_ point: String) -> Never {
        FileHandle.standardError.write(Data("kmk-sync hub: fault injected (KMK_HUB_FAULT), exiting \(point)\n".utf8))
        exit(137)
    }
}
