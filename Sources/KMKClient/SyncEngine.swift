import Foundation
import KMKModel
import KMKReplica
import KMKSync

/// Push, pull and sync for one replica against its hub (SPEC.md §11.4–11.5).
public struct SyncEngine {
    /// A failure to inject, for tests of interrupted transfers: the client exits at once, as
    /// if killed, at the named point.
    public enum Fault: Hashable, Sendable {
        /// After the hub acknowledged the n-th batch, before the replica records it.
        case exitAfterPushReply(Int)
        /// After receiving the n-th pull page, before applying it.
        case exitBeforePullApply(Int)

        public init?(text: String) {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
            switch parts[0] {
            case "exit-after-push-reply": self = .exitAfterPushReply(n)
            case "exit-before-pull-apply": self = .exitBeforePullApply(n)
            default: return nil
            }
        }
    }

    /// What a push did.
    public struct PushSummary: Hashable, Sendable {
        public var batches = 0
        public var changes = 0
        public var applied = 0
        public var duplicates = 0
        public var restarts = 0
    }

    /// What a pull did.
    public struct PullSummary: Hashable, Sendable {
        public var pages = 0
        public var changes = 0
        public var applied = 0
        public var conflicts = 0
        public var restarted = false
        /// Changes set aside in the quarantine by this pull (SPEC.md §6), and those of earlier
        /// runs that applied now.
        public var quarantined = 0
        public var released = 0
    }

    public let replica: Replica
    public let client: HubClient
    /// The most changes per push batch (never above the hub's `max_batch_changes`). The batch
    /// is also cut at about ``maxBatchBytes`` of JSON (about 230 bytes per change: about 21,000
    /// changes). Each batch costs a round trip, a hub commit and two local commits; batches of
    /// 1,000 made pushing 200,000 changes about a quarter slower than 5,000, and batches of
    /// 20,000 pushed 1,000,001 changes in about 10% less time than 5,000 (BENCHMARKS.md, round 9).
    public var maxBatchChanges = 20_000
    public var maxBatchBytes = 5_000_000
    public var pageLimit: Int?
    public var maxDrift = Replica.defaultMaxDrift
    public var fault: Fault?
    /// Called with a progress line now and then (the CLI shows it on a terminal only).
    public var progress: (String) -> Void = { _ in }

    public init(replica: Replica, client: HubClient) {
        self.replica = replica
        self.client = client
    }

    /// Checks the hub is reachable and speaks this replica's schema; returns its limits.
    func handshake() async throws -> HubClient.Health {
        let health = try await client.health()
        guard health.schema == replica.schema.version else {
            let side = health.schema > replica.schema.version ? "upgrade kmk-sync on this machine"
                : "the hub is older: ask its operator to upgrade it"
            throw ClientError(.refused, "this replica speaks schema \(replica.schema.version) but the hub at \(client.baseURL) "
                + "speaks \(health.schema): \(side)")
        }
        return health
    }

    /// Pushes every pending change in numbered batches until none is left.
    public func push() async throws -> PushSummary {
        let health = try await handshake()
        let count = min(maxBatchChanges, health.maxBatchChanges)
        let bytes = min(maxBatchBytes, health.maxBatchBytes - 1_024)
        var summary = PushSummary()
        // A hub restored from a backup older than this replica's last acknowledged batch: with
        // nothing pending, no batch would tell (SPEC.md §11.4), so ask, and push the whole log.
        let state = try replica.remoteState()
        if state.lastBatch > 0, state.inflight == nil {
            let held = try await client.lastBatch(replica: replica.replicaID)
            if held < state.lastBatch {
                try replica.restartPush(nextBatch: held + 1)
                summary.restarts += 1
            }
        }
        let total = try replica.pendingOutgoing()
        var sent = 0
        var prepared: PreparedPushBatch?
        let client = self.client
        while let (batch, upTo) = try replica.nextPushBatch(maxCount: count, maxBytes: bytes, prepared: prepared) {
            prepared = nil
            // One batch in flight (SPEC.md §11.4); while the hub works on it, the next one is read
            // and encoded here (reads only), to be sent once this one is acknowledged. A failure
            // to read ahead is left to the next nextPushBatch, which reads again and reports it.
            async let sending = client.push(batch)
            let ahead = try? replica.preparePushBatch(after: upTo, maxCount: count, maxBytes: bytes)
            let reply: PushReply
            do {
                reply = try await sending
            } catch let e as WireError where e.code == "batch_gap" {
                guard let expected = e.expectedBatch, summary.restarts < 2 else {
                    throw ClientError(.protocolError, "the hub keeps refusing this replica's batch numbers: \(e.message)")
                }
                // The hub and this replica disagree on the batch count (one was restored from a
                // backup): number from the hub's and send the whole log again; the hub ignores
                // what it already has.
                try replica.restartPush(nextBatch: expected)
                summary.restarts += 1
                sent = 0
                continue
            }
            if case .exitAfterPushReply(let n)? = fault, n == summary.batches + 1 { SyncEngine.die("after push reply \(n)") }
            if reply.duplicate, reply.lastBatch > batch.batch {
                guard summary.restarts < 2 else {
                    throw ClientError(.protocolError, "the hub keeps answering batch \(batch.batch) as a duplicate")
                }
                try replica.restartPush(nextBatch: reply.lastBatch + 1)
                summary.restarts += 1
                sent = 0
                continue
            }
            try replica.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: reply.hub)
            prepared = ahead
            summary.batches += 1
            summary.changes += batch.changes.count
            summary.applied += reply.applied
            if reply.duplicate { summary.duplicates += 1 }
            sent += batch.changes.count
            progress("push: \(sent)/\(max(total, sent)) changes")
        }
        return summary
    }

    /// Pulls pages until the hub has no more; each page is applied with its cursor in one
    /// transaction. A stale cursor (a restored hub) restarts the pull from the beginning and
    /// marks the whole log for pushing again.
    ///
    /// The next page is asked for as soon as this page's cursor is known: read from the start of
    /// its body (``PullPage/head(body:)``) when the hub writes it before the changes, else once
    /// the page is decoded. So the hub reads and encodes the next page while this replica decodes
    /// and applies this one. Pages are still applied one at a time, in order, each with its own
    /// cursor; a page fetched ahead is thrown away when decoding or applying fails.
    public func pull() async throws -> PullSummary {
        _ = try await handshake()
        var summary = PullSummary()
        // Changes set aside earlier may apply now (after an upgrade, or a repair on the hub).
        let before = try replica.quarantineCount()
        try replica.retryQuarantine(maxDrift: maxDrift)
        summary.released = before - (try replica.quarantineCount())
        let client = self.client
        let limit = pageLimit
        let nationalOnly = replica.municipality.isNational
        func fetch(_ cursor: String?) -> Task<[UInt8], any Error> {
            Task { try await client.pullBody(cursor: cursor, limit: limit, nationalOnly: nationalOnly) }
        }
        var next: Task<[UInt8], any Error>? = fetch(try replica.remoteState().cursor)
        defer { next?.cancel() }
        while let fetching = next {
            let body: [UInt8]
            do {
                body = try await fetching.value
            } catch let e as WireError where e.code == "stale_cursor" && !summary.restarted {
                try replica.restartPull()
                let state = try replica.remoteState()
                try replica.restartPush(nextBatch: state.lastBatch + 1)
                summary.restarted = true
                next = fetch(nil)
                continue
            }
            let head = PullPage.head(body: body)
            next = head.flatMap { $0.more ? fetch($0.cursor) : nil }
            let page = try client.page(body)
            if let head {
                guard head.cursor == page.cursor, head.more == page.more else {
                    throw ClientError(.protocolError, "the hub sent a page that names its cursor twice, differently")
                }
            } else if page.more {
                next = fetch(page.cursor)
            }
            summary.pages += 1
            if case .exitBeforePullApply(let n)? = fault, n == summary.pages { SyncEngine.die("before applying pull page \(n)") }
            let result = try replica.applyPulled(page, maxDrift: maxDrift)
            summary.changes += page.changes.count
            summary.applied += result.applied
            summary.conflicts += result.conflicts.count
            summary.quarantined += result.quarantined
            progress("pull: \(summary.changes) changes")
        }
        return summary
    }

    /// `sync`: push, then pull, then push again if the pull found the hub restored (or left
    /// anything pending). With `full` (`sync --full`), the whole log is pushed again and the
    /// pull starts from the beginning: the repair when `check` or `status` finds that the
    /// replica and the hub differ (SPEC.md §11.4).
    public func sync(full: Bool = false) async throws -> (push: PushSummary, pull: PullSummary) {
        if full {
            try replica.restartPull()
            try replica.restartPush(nextBatch: try replica.remoteState().lastBatch + 1)
        }
        var pushed = try await push()
        let pulled = try await pull()
        if try replica.pendingOutgoing() > 0 {
            let again = try await push()
            pushed.batches += again.batches
            pushed.changes += again.changes
            pushed.applied += again.applied
            pushed.duplicates += again.duplicates
            pushed.restarts += again.restarts
        }
        return (pushed, pulled)
    }

    private static func die(_ point: String) -> Never {
        FileHandle.standardError.write(Data("kmk-sync: fault injected (KMK_CLIENT_FAULT), exiting \(point)\n".utf8))
        exit(137)
    }
}
